// Interop: the official MCP TypeScript SDK client (@modelcontextprotocol/sdk)
// against gatehouse's /mcp. Run by cmd/gatehouse's TestInterop_MCPClient,
// which checks the audit log afterwards.
//
// Env: GATEHOUSE_MCP (…/mcp), KEY_AGENT, KEY_CUSTOMER, KEY_ADMIN.
// Prints one JSON object per line ({"case", ...}); exits non-zero on the
// first failed expectation.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.GATEHOUSE_MCP);
const out = (c, v = {}) => console.log(JSON.stringify({ case: c, ...v }));

async function connect(key) {
  const client = new Client({ name: 'interop', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  await client.connect(transport);
  return { client, transport };
}

const text = (r) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

async function role(name, key, calls) {
  const { client, transport } = await connect(key);
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  out(`${name}-list`, { tools: names });
  for (const [tool, args, wantError, wantText] of calls) {
    const r = await client.callTool({ name: tool, arguments: args });
    const t = text(r);
    out(`${name}-call`, { tool, args, isError: !!r.isError, text: t });
    assert.equal(!!r.isError, wantError, `${name} ${tool} ${JSON.stringify(args)}: ${t}`);
    if (wantText) assert.match(t, wantText, `${name} ${tool}`);
  }
  return { client, transport, names };
}

const agent = await role('agent', process.env.KEY_AGENT, [
  ['claims_status', { claim_id: 'CLM-1001' }, false, /CLM-1001/],
  ['payments_lookup', { customer_id: 'C-100' }, true, /not offered/],
  ['policy_update', { policy_id: 'POL-500', field: 'status', value: 'lapsed' }, true, /not offered/],
  ['claims_status', { claim_id: 'CLM-1001', extra: 1 }, true, /invalid arguments/],
  ['ask_support_agent', { message: 'hello' }, false, /scripted/],
]);
assert.ok(agent.names.includes('claims_status') && agent.names.includes('ask_support_agent'));
assert.ok(!agent.names.includes('payments_lookup') && !agent.names.includes('policy_update'));

const customer = await role('customer', process.env.KEY_CUSTOMER, [
  ['payments_lookup', { customer_id: 'C-100' }, false, /C-100/],
  ['payments_lookup', { customer_id: 'C-200' }, true, /condition/],
]);
assert.ok(customer.names.includes('payments_lookup') && !customer.names.includes('policy_update'));

const admin = await role('admin', process.env.KEY_ADMIN, [
  ['payments_lookup', { customer_id: 'C-200' }, false, /C-200/],
  ['policy_update', { policy_id: 'POL-501', field: 'status', value: 'active' }, false, /POL-501/],
]);
assert.ok(admin.names.includes('policy_update'));

// A session is bound to the caller that opened it: the agent's session id
// with the admin's key is refused.
const sid = agent.transport.sessionId;
assert.ok(sid, 'no session id');
const hijack = await fetch(url, {
  method: 'POST',
  headers: {
    Authorization: `Bearer ${process.env.KEY_ADMIN}`, 'Mcp-Session-Id': sid,
    'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
    'Mcp-Protocol-Version': '2025-06-18',
  },
  body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
});
out('hijack', { status: hijack.status });
assert.equal(hijack.status, 403);

// Unauthenticated: 401 with the RFC 9728 challenge, and the client SDK
// refuses to connect.
const anon = await fetch(url, {
  method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
});
out('anonymous', { status: anon.status, challenge: anon.headers.get('www-authenticate') });
assert.equal(anon.status, 401);
assert.match(anon.headers.get('www-authenticate'), /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource"/);
let refused = false;
try {
  const c = new Client({ name: 'anon', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(url));
} catch (e) {
  refused = true;
  out('anonymous-sdk', { error: String(e.message).slice(0, 200) });
}
assert.ok(refused, 'the SDK connected without credentials');

for (const c of [agent, customer, admin]) await c.client.close();
out('done');
