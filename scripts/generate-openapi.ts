import { OPENAPI_PATH } from '../contracts/documents';
import { writeContracts } from './generate-contracts';

/** `npm run openapi`: writes api/openapi.json from the handlers' zod schemas. */
for (const path of writeContracts((candidate) => candidate === OPENAPI_PATH)) console.log(`wrote ${path}`);
