// A sample browser client for the liveness API, written to be read and copied: no framework, plain DOM, TypeScript
// that the local stack bundles with esbuild into the /app.js the page loads (docs/clients.md says why).
// The flow a real app needs is all here: check the photo, create a check, upload the selfie straight to S3 with the
// presigned POST (the image never passes through the API), poll the check, show the decision. Text from the API is
// always set with textContent, never as HTML.
//
//   selfie-rules.ts  what a photo must be: the service's own limits, accepted types and magic-byte sniffer
//   liveness-api.ts  the API calls, the S3 upload and the polling, typed by the API's contract
//   app.ts           this file: the page — camera, file picker, progress and result

import { RETRIED_FAILURE_CODES } from '../lambdas/core/failure-codes';
import { ClientError } from './client-error';
import {
  type ApiSettings,
  type Check,
  type CheckRequest,
  createCheck,
  deleteCheck,
  listChecks,
  uploadToS3,
  waitForDecision,
} from './liveness-api';
import { ACCEPTED_FILES_HINT, checkSelfie, FILE_INPUT_ACCEPT, formatBytes } from './selfie-rules';

/** Finds an element and checks its kind, so an id renamed in index.html fails on load rather than mid-flow. */
function el<T extends HTMLElement>(id: string, kind: { new (): T; readonly name: string }): T {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`index.html has no ${kind.name} with id "${id}"`);
  return found;
}

const ui = {
  form: el('verify-form', HTMLFormElement),
  apiUrl: el('api-url', HTMLInputElement),
  apiKey: el('api-key', HTMLInputElement),
  threshold: el('threshold', HTMLInputElement),
  vendorData: el('vendor-data', HTMLInputElement),
  fileInput: el('file-input', HTMLInputElement),
  fileRules: el('file-rules', HTMLElement),
  cameraStart: el('camera-start', HTMLButtonElement),
  cameraCapture: el('camera-capture', HTMLButtonElement),
  video: el('camera-preview', HTMLVideoElement),
  preview: el('selfie-preview', HTMLImageElement),
  verify: el('verify', HTMLButtonElement),
  error: el('error', HTMLElement),
  progressPanel: el('progress-panel', HTMLElement),
  statusLine: el('status-line', HTMLElement),
  uploadProgress: el('upload-progress', HTMLProgressElement),
  statusLog: el('status-log', HTMLOListElement),
  result: el('result', HTMLElement),
  decision: el('decision', HTMLElement),
  score: el('result-score', HTMLElement),
  warnings: el('result-warnings', HTMLElement),
  faceQuality: el('result-face-quality', HTMLElement),
  failure: el('result-error', HTMLElement),
  checkId: el('result-check-id', HTMLElement),
  listButton: el('list-checks', HTMLButtonElement),
  listPanel: el('check-list-panel', HTMLElement),
  listVendor: el('check-list-vendor', HTMLElement),
  list: el('check-list', HTMLOListElement),
  deleteCheck: el('delete-check', HTMLButtonElement),
  deleteStatus: el('delete-status', HTMLElement),
};

interface Selfie {
  readonly blob: Blob;
  readonly name: string;
}

let selfie: Selfie | null = null;
let cameraStream: MediaStream | null = null;
let previewUrl = '';

// Served by the API itself (the local stack) the API is this origin; opened from a file, assume `npm start`.
ui.apiUrl.value = location.protocol.startsWith('http') ? location.origin : 'http://127.0.0.1:3000';
ui.apiKey.value = 'local-dev-key';
// The picker offers, and its label names, exactly the types the API accepts: both come from the service's list.
ui.fileInput.accept = FILE_INPUT_ACCEPT;
ui.fileRules.textContent = ACCEPTED_FILES_HINT;

ui.fileInput.addEventListener('change', () => {
  const file = ui.fileInput.files?.[0];
  if (!file) return;
  stopCamera();
  useSelfie(file, file.name);
});

// Only Safari shows HEIC; elsewhere the preview cannot render a phone's HEIC photo, which is still sent as it is
// (the service decodes it). A broken-image icon would say something is wrong with the photo: show nothing instead.
ui.preview.addEventListener('error', () => {
  ui.preview.hidden = true;
});

ui.cameraStart.addEventListener('click', () => {
  startCamera().catch((error: unknown) => showError(cameraMessage(error)));
});

ui.cameraCapture.addEventListener('click', () => {
  capturePhoto().catch((error: unknown) => showError(error instanceof ClientError ? error.message : String(error)));
});

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  ui.verify.disabled = true;
  verify()
    .catch((error: unknown) => {
      showError(error instanceof ClientError ? error.message : `Something went wrong: ${error}`);
      setStatus('Stopped.');
    })
    .finally(() => {
      ui.verify.disabled = false;
    });
});

async function startCamera(): Promise<void> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new ClientError('This browser gives no camera access here: the page must be served over https or localhost.');
  }
  hideError();
  cameraStream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 960 } },
    audio: false,
  });
  ui.video.srcObject = cameraStream;
  ui.video.hidden = false;
  ui.cameraCapture.hidden = false;
  await ui.video.play();
}

async function capturePhoto(): Promise<void> {
  if (!cameraStream || ui.video.videoWidth === 0) throw new ClientError('The camera has not started yet.');
  const canvas = document.createElement('canvas');
  canvas.width = ui.video.videoWidth;
  canvas.height = ui.video.videoHeight;
  const context = canvas.getContext('2d');
  if (!context) throw new ClientError('This browser cannot draw the camera frame (no 2D canvas).');
  context.drawImage(ui.video, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92));
  if (!blob) throw new ClientError('Could not capture a photo from the camera.');
  stopCamera();
  useSelfie(blob, 'camera.jpg');
}

function stopCamera(): void {
  for (const track of cameraStream?.getTracks() ?? []) track.stop();
  cameraStream = null;
  ui.video.srcObject = null;
  ui.video.hidden = true;
  ui.cameraCapture.hidden = true;
}

function cameraMessage(error: unknown): string {
  if (error instanceof ClientError) return error.message;
  const name = error instanceof DOMException || error instanceof Error ? error.name : '';
  if (name === 'NotAllowedError') return 'Camera access was refused. Allow it, or choose a photo instead.';
  if (name === 'NotFoundError') return 'No camera was found. Choose a photo instead.';
  return `The camera could not start: ${error instanceof Error ? error.message : String(error)}`;
}

function useSelfie(blob: Blob, name: string): void {
  const picked: Selfie = { blob, name };
  selfie = picked;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(blob);
  ui.preview.src = previewUrl;
  ui.preview.hidden = false;
  // A new photo: what the page showed for the previous one no longer applies.
  ui.result.hidden = true;
  ui.progressPanel.hidden = true;
  // Say so at once: waiting for the click to learn that a photo is too big, or not an image the service takes, wastes
  // the person's time. (A photo picked meanwhile makes this answer stale; it is then dropped.)
  checkSelfie(blob)
    .then((check) => {
      if (selfie !== picked) return;
      if (check.ok) hideError();
      else showError(check.problem);
    })
    .catch((error: unknown) => {
      if (selfie === picked) showError(`The photo could not be read: ${error}`);
    });
}

// The person's right to erasure: the check's record, its selfie and Didit's saved copy (DELETE /v1/liveness-checks/{id}).
ui.deleteCheck.addEventListener('click', () => {
  const id = ui.checkId.textContent ?? '';
  if (!id) return;
  ui.deleteCheck.disabled = true;
  hideError();
  deleteCheck(apiSettings(), id)
    .then(() => {
      ui.deleteStatus.textContent = 'Deleted: the check, its selfie and Didit’s copy are being erased.';
    })
    .catch((error: unknown) => {
      ui.deleteCheck.disabled = false;
      showError(error instanceof ClientError ? error.message : 'Deleting the check failed.');
    });
});

async function verify(): Promise<void> {
  hideError();
  ui.result.hidden = true;
  ui.statusLog.replaceChildren();
  const photo = selfie;
  if (!photo) throw new ClientError('Take a photo or choose a file first.');
  const checked = await checkSelfie(photo.blob);
  if (!checked.ok) throw new ClientError(checked.problem);
  const api = apiSettings();

  ui.progressPanel.hidden = false;
  ui.uploadProgress.value = 0;
  setStatus('Creating the check…');
  const created = await createCheck(api, checkRequest(checked.contentType));
  logStatus(`Check ${created.id} created`);

  await uploadToS3(created.upload, photo, checked.contentType, (sent, total) => {
    ui.uploadProgress.value = Math.round((sent / total) * 100);
    setStatus(`Uploading ${formatBytes(sent)} of ${formatBytes(total)}…`);
  });
  ui.uploadProgress.value = 100;
  logStatus(`Uploaded ${formatBytes(photo.blob.size)}`);

  const check = await waitForDecision(api, created.id, (seen) => {
    logStatus(`Status: ${seen}`);
    setStatus(`Waiting for the decision: ${seen}`);
  });
  setStatus(`Finished: ${check.status}`);
  showResult(check);
}

function apiSettings(): ApiSettings {
  let base: URL;
  try {
    base = new URL(ui.apiUrl.value.trim());
  } catch {
    throw new ClientError('The API URL is not a URL.');
  }
  // A trailing slash keeps a deployed stage path (…/prod/) when paths are joined onto it.
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const key = ui.apiKey.value.trim();
  if (!key) throw new ClientError('Enter the API key.');
  return { base, key };
}

function checkRequest(contentType: CheckRequest['content_type']): CheckRequest {
  return {
    content_type: contentType,
    ...(ui.threshold.value !== '' ? { face_liveness_score_decline_threshold: Number(ui.threshold.value) } : {}),
    ...(ui.vendorData.value !== '' ? { vendor_data: ui.vendorData.value } : {}),
  };
}

function showResult(check: Check): void {
  const liveness = check.result?.liveness;
  const outcome = check.status === 'COMPLETED' && check.result ? check.result.decision : check.status;
  ui.result.dataset.outcome = outcome;
  ui.decision.textContent = check.status === 'FAILED' ? `FAILED: ${check.error?.code ?? 'no error recorded'}` : outcome;
  ui.score.textContent = liveness?.score == null ? '—' : String(liveness.score);
  const warnings = liveness?.warnings ?? [];
  ui.warnings.replaceChildren(
    ...(warnings.length === 0
      ? [document.createTextNode(check.status === 'COMPLETED' ? 'none' : '—')]
      : warnings.map((w) => {
          const line = document.createElement('div');
          line.textContent = w.short_description ? `${w.risk} (${w.short_description})` : w.risk;
          return line;
        })),
  );
  if (check.status === 'FAILED' && check.error) {
    // The same list the service retried with: a failure it retried may pass later; any other will fail again.
    const retry = RETRIED_FAILURE_CODES.includes(check.error.code)
      ? 'Trying again may help.'
      : 'Trying again will not help.';
    ui.failure.textContent = `${check.error.message}. ${retry}`;
  }
  ui.faceQuality.textContent =
    liveness?.face_quality == null
      ? '—'
      : `${liveness.face_quality}${liveness.face_luminance == null ? '' : ` (luminance ${liveness.face_luminance})`}`;
  ui.checkId.textContent = check.id;
  ui.deleteCheck.disabled = false;
  ui.deleteStatus.textContent = '';
  ui.result.hidden = false;
}

function setStatus(text: string): void {
  ui.statusLine.textContent = text;
}

function logStatus(text: string): void {
  const item = document.createElement('li');
  item.textContent = text;
  ui.statusLog.append(item);
}

// The API lists only the checks this key created: another client app's checks for the same user never show.
ui.listButton.addEventListener('click', () => {
  const vendorData = ui.vendorData.value.trim();
  if (!vendorData) {
    showError('Type the vendor data (your user id) whose checks to list.');
    return;
  }
  // apiSettings() throws a ClientError for a bad URL or key: it lands in the same error handler.
  Promise.resolve()
    .then(() => listChecks(apiSettings(), vendorData))
    .then(
      (page) => {
        ui.listVendor.textContent = vendorData;
        ui.list.replaceChildren(
          ...page.items.map((check) => {
            const item = document.createElement('li');
            const outcome = check.result?.decision ?? check.error?.code ?? '';
            item.textContent = `${check.created_at}  ${check.status} ${outcome}  (${check.id})`;
            return item;
          }),
        );
        if (page.items.length === 0)
          ui.list.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'none' }));
        ui.listPanel.hidden = false;
      },
      (error: unknown) => showError(error instanceof ClientError ? error.message : `Something went wrong: ${error}`),
    );
});

function showError(message: string): void {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function hideError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
}
