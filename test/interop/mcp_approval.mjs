// Interop: the official MCP TypeScript SDK client calls an approval-gated
// tool over /mcp. Run by cmd/gatehouse's TestInterop_MCPApprovalIsHeld,
// which approves the call and checks that it then ran once.
//
// Env: GATEHOUSE_MCP (…/mcp), KEY (the caller's API key).
// Prints one JSON object per line ({"case", ...}).
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.GATEHOUSE_MCP);
const out = (c, v = {}) => console.log(JSON.stringify({ case: c, ...v }));

const client = new Client({ name: 'interop-approval', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(url, {
  requestInit: { headers: { Authorization: `Bearer ${process.env.KEY}` } },
}));
const r = await client.callTool({
  name: 'policy_update',
  arguments: { policy_id: 'POL-500', field: 'status', value: 'lapsed' },
});
const text = r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
out('held', { isError: !!r.isError, text, structured: r.structuredContent ?? null });
assert.match(text, /awaits human approval/);
await client.close();
out('done');
