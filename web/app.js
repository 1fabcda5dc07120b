// A sample browser client for the liveness API, written to be read and copied: no framework, no build step.
// The flow a real app needs is all here: create a check, upload the selfie straight to S3 with the presigned POST
// (the image never passes through the API), poll the check, show the decision. Text from the API is always set with
// textContent, never as HTML.

/** The presigned POST's content-length-range; checked here so an oversize photo costs neither a check nor an upload. */
const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
const TERMINAL_STATUSES = new Set(['COMPLETED', 'FAILED', 'EXPIRED']);
/** The retry workflow can take a few minutes when Didit is down; the check goes on if the page stops waiting. */
const WAIT_TIMEOUT_MS = 5 * 60 * 1000;
const RETRYABLE_FAILURES = new Set(['DIDIT_UNAVAILABLE', 'DIDIT_BAD_RESPONSE', 'DEPENDENCY_THROTTLED']);

const el = (id) => document.getElementById(id);
const ui = {
  form: el('verify-form'),
  apiUrl: el('api-url'),
  apiKey: el('api-key'),
  threshold: el('threshold'),
  vendorData: el('vendor-data'),
  fileInput: el('file-input'),
  cameraStart: el('camera-start'),
  cameraCapture: el('camera-capture'),
  video: el('camera-preview'),
  preview: el('selfie-preview'),
  verify: el('verify'),
  error: el('error'),
  progressPanel: el('progress-panel'),
  statusLine: el('status-line'),
  uploadProgress: el('upload-progress'),
  statusLog: el('status-log'),
  result: el('result'),
  decision: el('decision'),
  score: el('result-score'),
  warnings: el('result-warnings'),
  faceQuality: el('result-face-quality'),
  failure: el('result-error'),
  checkId: el('result-check-id'),
};

/** A message for the person at the page; thrown anywhere in the flow and shown in the alert box. */
class ClientError extends Error {}

/** @type {{ blob: Blob, name: string } | null} */
let selfie = null;
/** @type {MediaStream | null} */
let cameraStream = null;
let previewUrl = '';

// Served by the API itself (the local stack) the API is this origin; opened from a file, assume `npm start`.
ui.apiUrl.value = location.protocol.startsWith('http') ? location.origin : 'http://127.0.0.1:3000';
ui.apiKey.value = 'local-dev-key';

ui.fileInput.addEventListener('change', () => {
  const file = ui.fileInput.files?.[0];
  if (!file) return;
  stopCamera();
  useSelfie(file, file.name);
});

ui.cameraStart.addEventListener('click', () => {
  startCamera().catch((error) => showError(cameraMessage(error)));
});

ui.cameraCapture.addEventListener('click', () => {
  capturePhoto().catch((error) => showError(error instanceof ClientError ? error.message : String(error)));
});

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  ui.verify.disabled = true;
  verify()
    .catch((error) => {
      showError(error instanceof ClientError ? error.message : `Something went wrong: ${error}`);
      setStatus('Stopped.');
    })
    .finally(() => {
      ui.verify.disabled = false;
    });
});

async function startCamera() {
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

async function capturePhoto() {
  if (!cameraStream || ui.video.videoWidth === 0) throw new ClientError('The camera has not started yet.');
  const canvas = document.createElement('canvas');
  canvas.width = ui.video.videoWidth;
  canvas.height = ui.video.videoHeight;
  canvas.getContext('2d').drawImage(ui.video, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92));
  if (!blob) throw new ClientError('Could not capture a photo from the camera.');
  stopCamera();
  useSelfie(blob, 'camera.jpg');
}

function stopCamera() {
  for (const track of cameraStream?.getTracks() ?? []) track.stop();
  cameraStream = null;
  ui.video.srcObject = null;
  ui.video.hidden = true;
  ui.cameraCapture.hidden = true;
}

function cameraMessage(error) {
  if (error instanceof ClientError) return error.message;
  if (error?.name === 'NotAllowedError') return 'Camera access was refused. Allow it, or choose a photo instead.';
  if (error?.name === 'NotFoundError') return 'No camera was found. Choose a photo instead.';
  return `The camera could not start: ${error?.message ?? error}`;
}

function useSelfie(blob, name) {
  selfie = { blob, name };
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(blob);
  ui.preview.src = previewUrl;
  ui.preview.hidden = false;
  // A new photo: what the page showed for the previous one no longer applies.
  ui.result.hidden = true;
  ui.progressPanel.hidden = true;
  // Say so at once: waiting for the click to learn that a photo is too big wastes the person's time.
  const problem = sizeProblem(blob.size);
  if (problem) showError(problem);
  else hideError();
}

function sizeProblem(bytes) {
  if (bytes === 0) return 'The photo is empty (0 bytes). Choose another one.';
  if (bytes > MAX_UPLOAD_BYTES) {
    return `The photo is ${formatBytes(bytes)}; the limit is ${formatBytes(MAX_UPLOAD_BYTES)}. Choose a smaller photo (the service downsizes to 1920 px anyway) or use the camera.`;
  }
  return undefined;
}

async function verify() {
  hideError();
  ui.result.hidden = true;
  ui.statusLog.replaceChildren();
  if (!selfie) throw new ClientError('Take a photo or choose a file first.');
  const problem = sizeProblem(selfie.blob.size);
  if (problem) throw new ClientError(problem);
  const contentType = await sniffContentType(selfie.blob);
  const api = apiSettings();

  ui.progressPanel.hidden = false;
  ui.uploadProgress.value = 0;
  setStatus('Creating the check…');
  const created = await callApi(api, 'POST', 'v1/liveness-checks', checkRequest(contentType), 201);
  logStatus(`Check ${created.id} created`);

  await uploadToS3(created.upload, selfie, contentType, (sent, total) => {
    ui.uploadProgress.value = Math.round((sent / total) * 100);
    setStatus(`Uploading ${formatBytes(sent)} of ${formatBytes(total)}…`);
  });
  ui.uploadProgress.value = 100;
  logStatus(`Uploaded ${formatBytes(selfie.blob.size)}`);

  const check = await waitForDecision(api, created.id);
  setStatus(`Finished: ${check.status}`);
  showResult(check);
}

function apiSettings() {
  let base;
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

function checkRequest(contentType) {
  const body = { content_type: contentType };
  if (ui.threshold.value !== '') body.face_liveness_score_decline_threshold = Number(ui.threshold.value);
  if (ui.vendorData.value !== '') body.vendor_data = ui.vendorData.value;
  return body;
}

/** The presigned POST pins the content type, so it has to be what the bytes are, not what the file name claims. */
async function sniffContentType(blob) {
  const b = new Uint8Array(await blob.slice(0, 12).arrayBuffer());
  const ascii = (from, to) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image/png';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'image/tiff';
  throw new ClientError('That file is not a JPEG, PNG, WebP or TIFF image. Convert it first (e.g. a HEIC to JPEG).');
}

async function callApi(api, method, path, body, expectedStatus) {
  const url = new URL(path, api.base);
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: { 'x-api-key': api.key, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ClientError(
      `Cannot reach the API at ${api.base}. Is it running, and does it allow this page's origin (CORS)?`,
    );
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ClientError(`The API answered ${res.status} without JSON. Is ${api.base} the liveness API URL?`);
  }
  if (res.status === expectedStatus) return json;
  const error = json?.error ?? { code: `HTTP_${res.status}`, message: json?.message ?? res.statusText };
  if (res.status === 401 || res.status === 403) {
    throw new ClientError(`The API refused the key (${res.status} ${error.code}). Check the API key.`);
  }
  if (res.status === 400 && Array.isArray(error.fields)) {
    throw new ClientError(
      `The API refused the request: ${error.fields.map((f) => `${f.field} ${f.message}`).join('; ')}`,
    );
  }
  throw new ClientError(`The API answered ${res.status} ${error.code}: ${error.message}`);
}

/**
 * XMLHttpRequest rather than fetch because only XHR reports upload progress. Every policy field goes first and the file
 * last: S3 ignores fields after the file. The bucket's CORS rule must allow this page's origin for POST.
 */
function uploadToS3(upload, photo, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append('file', new Blob([photo.blob], { type: contentType }), photo.name);

    const xhr = new XMLHttpRequest();
    xhr.open('POST', upload.url);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(Math.min(event.loaded, photo.blob.size), photo.blob.size);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      const code = /<Code>([^<]*)<\/Code>/.exec(xhr.responseText)?.[1] ?? `HTTP ${xhr.status}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText)?.[1] ?? '';
      reject(new ClientError(`S3 refused the upload (${code}${message ? `: ${message}` : ''}).`));
    });
    xhr.addEventListener('error', () => {
      reject(
        new ClientError(
          "The upload to S3 failed: a network error, or the bucket's CORS rule does not allow this origin.",
        ),
      );
    });
    xhr.addEventListener('timeout', () => reject(new ClientError('The upload to S3 timed out.')));
    xhr.timeout = 120_000;
    xhr.send(form);
  });
}

async function waitForDecision(api, id) {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  let interval = 250;
  let last = '';
  for (;;) {
    const check = await callApi(api, 'GET', `v1/liveness-checks/${encodeURIComponent(id)}`, undefined, 200);
    const seen = check.retry ? `${check.status} (retry round ${check.retry.round})` : check.status;
    if (seen !== last) {
      last = seen;
      logStatus(`Status: ${seen}`);
      setStatus(`Waiting for the decision: ${seen}`);
    }
    if (TERMINAL_STATUSES.has(check.status)) return check;
    if (Date.now() > deadline) {
      throw new ClientError(`Still ${check.status} after 5 minutes; the check goes on: look it up later by id ${id}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
    interval = Math.min(interval * 1.5, 2000);
  }
}

function showResult(check) {
  const liveness = check.result?.liveness;
  const outcome = check.status === 'COMPLETED' ? check.result.decision : check.status;
  ui.result.dataset.outcome = outcome;
  ui.decision.textContent = check.status === 'FAILED' ? `FAILED: ${check.error?.code ?? 'no error recorded'}` : outcome;
  ui.score.textContent = liveness?.score ?? '—';
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
    const retry = RETRYABLE_FAILURES.has(check.error.code) ? 'Trying again may help.' : 'Trying again will not help.';
    ui.failure.textContent = `${check.error.message}. ${retry}`;
  }
  ui.faceQuality.textContent =
    liveness?.face_quality == null
      ? '—'
      : `${liveness.face_quality}${liveness.face_luminance == null ? '' : ` (luminance ${liveness.face_luminance})`}`;
  ui.checkId.textContent = check.id;
  ui.result.hidden = false;
}

function setStatus(text) {
  ui.statusLine.textContent = text;
}

function logStatus(text) {
  const item = document.createElement('li');
  item.textContent = text;
  ui.statusLog.append(item);
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}
