#!/usr/bin/env node
// A test MCP server with one tool, probe_NAME(text), for adr's e2e tests.
//
//   node mcp-server.js stdio NAME
//       JSON-RPC over stdin/stdout (one message per line).  The tool's
//       result is "probe-ok:NAME:TEXT:HASH", HASH the first 16 hex digits of
//       the SHA-256 of $PROBE_TOKEN ("none" when it is unset): proof the
//       server ran with the key, without the key in the result.
//   node mcp-server.js http NAME PORT HOST CERT KEY TOKEN LOG
//       Streamable HTTP on https://HOST:PORT/mcp (TLS with CERT and KEY);
//       a request without "Authorization: Bearer TOKEN" gets 401.  Each
//       request is logged as one JSON line to LOG.  Prints "listening PORT".
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const mode = process.argv[2];
const name = process.argv[3] || 'probe';

function hash(t) {
  return t ? crypto.createHash('sha256').update(t).digest('hex').slice(0, 16) : 'none';
}

function handle(msg, token) {
  if (!msg || typeof msg !== 'object' || msg.id === undefined) return null; // a notification
  const ok = (result) => ({ jsonrpc: '2.0', id: msg.id, result });
  switch (msg.method) {
    case 'initialize':
      return ok({
        protocolVersion: (msg.params && msg.params.protocolVersion) || '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'adr-probe-' + name, version: '1.0.0' },
      });
    case 'ping':
      return ok({});
    case 'tools/list':
      return ok({
        tools: [{
          name: 'probe_' + name,
          description: 'Answers with a proof that the server ran with its key.',
          inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
        }],
      });
    case 'tools/call': {
      const text = String((msg.params && msg.params.arguments && msg.params.arguments.text) || '');
      return ok({ content: [{ type: 'text', text: 'probe-ok:' + name + ':' + text + ':' + hash(token) }], isError: false });
    }
    default:
      return { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'no method ' + msg.method } };
  }
}

if (mode === 'stdio') {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      let msg;
      try { msg = JSON.parse(line); } catch (e) { continue; }
      const r = handle(msg, process.env.PROBE_TOKEN);
      if (r) process.stdout.write(JSON.stringify(r) + '\n');
    }
  });
  process.stdin.on('end', () => process.exit(0));
} else if (mode === 'http') {
  const [, , , , port, host, cert, key, token, log] = process.argv;
  const https = require('https');
  const srv = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const auth = req.headers.authorization || '';
      const good = auth === 'Bearer ' + token;
      let msg = null;
      try { msg = body ? JSON.parse(body) : null; } catch (e) { msg = null; }
      fs.appendFileSync(log, JSON.stringify({
        method: req.method, path: req.url, auth: good ? 'ok' : (auth ? 'bad' : 'none'),
        rpc: msg && msg.method, sentinel: auth.includes('adr-sentinel-'),
      }) + '\n');
      if (!good) { res.writeHead(401, { 'content-type': 'application/json' }); return res.end('{"error":"unauthorized"}'); }
      if (req.method !== 'POST') { res.writeHead(405); return res.end(); }
      const msgs = Array.isArray(msg) ? msg : [msg];
      const out = msgs.map((m) => handle(m, token)).filter((r) => r);
      if (!out.length) { res.writeHead(202); return res.end(); }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(Array.isArray(msg) ? out : out[0]));
    });
  });
  srv.listen(Number(port), host, () => console.log('listening ' + srv.address().port));
  process.on('SIGTERM', () => process.exit(0));
} else {
  process.stderr.write('usage: mcp-server.js stdio NAME | http NAME PORT HOST CERT KEY TOKEN LOG\n');
  process.exit(2);
}
