// Interop: the Responses API — the official `openai` package's
// responses.create and responses.stream, and the OpenAI Agents SDK
// (@openai/agents) in its default (Responses) mode — against a running
// gatehouse. Run by cmd/gatehouse's TestInterop_Responses*, which starts
// gatehouse with a scripted upstream model and checks the audit log.
//
// Env: GATEHOUSE_BASE (…/v1), KEY_AGENT, KEY_ADMIN, KEY_CUSTOMER,
// KEY_VIEWER, PT_MODEL (a pass-through model), AGENT_MODEL (an agent).
// Prints one JSON object per line ({"case", ...}); exits non-zero on the
// first failed expectation.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  Agent, run, tool, setDefaultOpenAIClient, setTracingDisabled, OpenAIResponsesModel,
} from '@openai/agents';
import { z } from 'zod';

const base = process.env.GATEHOUSE_BASE;
const ptModel = process.env.PT_MODEL;
const agentModel = process.env.AGENT_MODEL;
const client = (key, opts = {}) => new OpenAI({ baseURL: base, apiKey: key, maxRetries: 0, ...opts });
const agentClient = client(process.env.KEY_AGENT);
const adminClient = client(process.env.KEY_ADMIN);
const out = (c, v = {}) => console.log(JSON.stringify({ case: c, ...v }));

const emailTool = {
  type: 'function', name: 'send_email', description: 'Send an e-mail', strict: true,
  parameters: { type: 'object', additionalProperties: false, properties: { to: { type: 'string' }, subject: { type: 'string' }, body: { type: 'string' } }, required: ['to', 'subject', 'body'] },
};
const payTool = { type: 'function', name: 'pay_invoice', parameters: { type: 'object', properties: { invoice: { type: 'string' } } } };
const calls = (r) => r.output.filter((i) => i.type === 'function_call');

// streamed runs responses.stream and checks the events as the SDK reads
// them: sequence numbers 0, 1, 2, ...; it returns the events and the final
// response.
async function streamed(c, params) {
  const s = c.responses.stream(params);
  const events = [];
  for await (const ev of s) events.push(ev);
  const final = await s.finalResponse();
  events.forEach((ev, i) => assert.equal(ev.sequence_number, i, `event ${i} (${ev.type}) sequence_number`));
  assert.equal(events[0].type, 'response.created');
  assert.equal(events.at(-1).type, 'response.completed');
  return { events, final };
}

async function openaiPackage() {
  // An agent as a model.
  const a = await agentClient.responses.create({ model: agentModel, input: 'What is the status of CLM-1001?' });
  assert.equal(a.object, 'response');
  assert.equal(a.status, 'completed');
  assert.match(a.output_text, /CLM-1001 is in review/);
  assert.equal(a.gatehouse.tool_calls[0].name, 'claims_status');
  assert.equal(a.gatehouse.tool_calls[0].decision, 'allow');
  assert.ok(a.usage.total_tokens > 0);
  out('agent-create', { run_id: a.gatehouse.run_id });

  const as = await streamed(agentClient, { model: agentModel, input: 'What is the status of CLM-1001?' });
  assert.match(as.final.output_text, /CLM-1001 is in review/);
  assert.ok(as.events.filter((e) => e.type === 'response.output_text.delta').length >= 3, 'text streamed in pieces');
  out('agent-stream', { run_id: as.final.gatehouse.run_id });

  // Pass-through: an allowed call is released; the client runs it and
  // answers on the stored response.
  const { data: p1, response: raw } = await agentClient.responses.create({
    model: ptModel, tools: [emailTool], input: 'PLEASE_EMAIL bob@bank.example',
  }).withResponse();
  const [call] = calls(p1);
  assert.equal(call.name, 'send_email');
  assert.equal(JSON.parse(call.arguments).to, 'bob@bank.example');
  assert.match(call.call_id, /^call_[0-9a-f]{32}$/);
  assert.equal(raw.headers.get('gatehouse-run-id'), p1.gatehouse.run_id);
  assert.ok(raw.headers.get('gatehouse-request-id'));
  const p2 = await agentClient.responses.create({
    model: ptModel, tools: [emailTool], previous_response_id: p1.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output: 'queued as message 42' }],
  });
  assert.match(p2.output_text, /done: queued as message 42/);
  // The same, the client holding the conversation (store: false).
  const p3 = await agentClient.responses.create({
    model: ptModel, tools: [emailTool], store: false,
    input: [{ role: 'user', content: 'PLEASE_EMAIL bob@bank.example' }, ...p1.output,
      { type: 'function_call_output', call_id: call.call_id, output: 'queued as message 42' }],
  });
  assert.match(p3.output_text, /done: queued as message 42/);
  await expectError('store: false keeps nothing', () => agentClient.responses.retrieve(p3.id), OpenAI.NotFoundError, 404, 'not_found');
  out('passthrough-create', { run_id: p1.gatehouse.run_id, result_run_id: p2.gatehouse.run_id, call_id: call.call_id, response_id: p1.id });

  // Stored responses: the owner reads and deletes; anyone else gets 404.
  const got = await agentClient.responses.retrieve(p1.id);
  assert.equal(got.id, p1.id);
  assert.equal(calls(got)[0].call_id, call.call_id);
  await expectError('another caller reads a stored response', () => adminClient.responses.retrieve(p1.id), OpenAI.NotFoundError, 404, 'not_found');
  await expectError("another caller's previous_response_id", () => adminClient.responses.create({ model: ptModel, previous_response_id: p1.id, input: 'hi' }), OpenAI.NotFoundError, 404, 'response_not_found');
  await expectError('another caller deletes a stored response', () => adminClient.responses.delete(p1.id), OpenAI.NotFoundError, 404, 'not_found');
  await agentClient.responses.delete(p2.id);
  await expectError('a deleted response', () => agentClient.responses.retrieve(p2.id), OpenAI.NotFoundError, 404, 'not_found');
  out('stored');

  // Pass-through, streamed: the call arrives whole, after the content.
  const ps = await streamed(agentClient, { model: ptModel, tools: [emailTool], input: 'PLEASE_EMAIL carol@bank.example' });
  const [sc] = calls(ps.final);
  assert.equal(JSON.parse(sc.arguments).to, 'carol@bank.example');
  assert.match(ps.final.output_text, /Sending it now/);
  const argDeltas = ps.events.filter((e) => e.type === 'response.function_call_arguments.delta');
  assert.equal(argDeltas.length, 1, 'the arguments in one piece');
  assert.equal(argDeltas[0].delta, sc.arguments);
  out('passthrough-stream', { call_id: sc.call_id });

  // A refused call never reaches the client, streamed or not.
  const r1 = await agentClient.responses.create({ model: ptModel, tools: [emailTool], input: 'PLEASE_EMAIL eve@evil.example' });
  assert.equal(calls(r1).length, 0);
  assert.match(r1.output_text, /not permitted/);
  assert.equal(r1.gatehouse.refused, true);
  const rs = await streamed(agentClient, { model: ptModel, tools: [emailTool], input: 'PLEASE_EMAIL eve@evil.example' });
  assert.equal(calls(rs.final).length, 0);
  // The refused arguments are only in the record of the decision
  // (gatehouse.tool_calls), never in an output item or a delta.
  const outside = rs.events.map((e) => (e.response ? { ...e, response: { ...e.response, gatehouse: undefined } } : e));
  assert.ok(!JSON.stringify(outside).includes('evil.example'), 'no byte of the refused arguments in the stream');
  assert.match(rs.final.gatehouse.tool_calls[0].arguments, /evil\.example/);
  assert.equal(rs.final.gatehouse.tool_calls[0].decision, 'deny');
  out('passthrough-refused', { run_id: r1.gatehouse.run_id });

  // A call needing approval is held: no call, the client is told.
  for (const create of [(p) => agentClient.responses.create(p), async (p) => (await streamed(agentClient, p)).final]) {
    const h = await create({ model: ptModel, tools: [payTool], input: 'PLEASE_PAY INV-7' });
    assert.equal(calls(h).length, 0);
    assert.match(h.output_text, /awaits human approval/);
    assert.equal(h.gatehouse.status, 'awaiting_approval');
  }
  out('passthrough-held');

  // A call id released to another caller is refused.
  const adm = await adminClient.responses.create({ model: ptModel, tools: [emailTool], input: 'PLEASE_EMAIL dan@bank.example' });
  await expectError("another caller's call id", () => agentClient.responses.create({
    model: ptModel, tools: [emailTool],
    input: [{ role: 'user', content: 'PLEASE_EMAIL dan@bank.example' }, ...adm.output,
      { type: 'function_call_output', call_id: calls(adm)[0].call_id, output: 'sent' }],
  }), OpenAI.BadRequestError, 400, 'unknown_tool_call');
}

// expectError runs fn and checks the SDK raised cls with status and code.
async function expectError(name, fn, cls, status, code) {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof cls, `${name}: ${e?.constructor?.name} is not ${cls.name}: ${e}`);
    assert.equal(e.status, status, `${name}: status`);
    assert.equal(e.code, code, `${name}: code`);
    assert.ok(typeof e.message === 'string' && e.message.length > 10, `${name}: message`);
    assert.ok(!/undefined|\[object/.test(e.message), `${name}: readable message: ${e.message}`);
    out('error', { name, status: e.status, code: e.code, type: e.type, message: e.message });
    return;
  }
  assert.fail(`${name}: no error`);
}

async function errorPaths() {
  const noAuth = client('unused', {
    fetch: (url, init) => {
      const h = new Headers(init.headers);
      h.delete('authorization');
      return fetch(url, { ...init, headers: h });
    },
  });
  const create = (c, p) => () => c.responses.create({ model: agentModel, input: 'hi', ...p });
  await expectError('missing token', create(noAuth), OpenAI.AuthenticationError, 401, 'missing_token');
  await expectError('invalid token', create(client('gh_not-a-key')), OpenAI.AuthenticationError, 401, 'invalid_token');
  await expectError('no respond permission', create(client(process.env.KEY_VIEWER)), OpenAI.PermissionDeniedError, 403, 'forbidden');
  await expectError('pass-through model without its permission', create(client(process.env.KEY_CUSTOMER), { model: ptModel }), OpenAI.PermissionDeniedError, 403, 'forbidden');
  await expectError('unknown model', create(agentClient, { model: 'no-such-model' }), OpenAI.NotFoundError, 404, 'model_not_found');
  await expectError('unknown member', create(agentClient, { logit_bias: { 1: 2 } }), OpenAI.BadRequestError, 400, 'invalid_request');
  await expectError('case-variant member', create(agentClient, { Input: 'x' }), OpenAI.BadRequestError, 400, 'invalid_request');
  await expectError('hosted tool', create(agentClient, { model: ptModel, tools: [{ type: 'web_search' }] }), OpenAI.BadRequestError, 400, 'hosted_tool');
  await expectError('tools on an agent', create(agentClient, { tools: [emailTool] }), OpenAI.BadRequestError, 400, 'invalid_request');
  await expectError('undeclared tool', create(agentClient, { model: ptModel, tools: [{ type: 'function', name: 'delete_everything', parameters: { type: 'object' } }] }), OpenAI.BadRequestError, 400, 'undeclared_tool');
  await expectError('unknown tool call', create(agentClient, {
    model: ptModel, tools: [emailTool],
    input: [{ role: 'user', content: 'hi' }, { type: 'function_call_output', call_id: 'call_forged', output: 'ok' }],
  }), OpenAI.BadRequestError, 400, 'unknown_tool_call');
  await expectError('malformed previous_response_id', create(agentClient, { previous_response_id: 'resp_nope' }), OpenAI.NotFoundError, 404, 'response_not_found');
  await expectError('body too large', create(agentClient, { input: 'x'.repeat(1100000) }), OpenAI.APIError, 413, 'body_too_large');
  await expectError('run limit', create(agentClient, { input: 'LOOP forever' }), OpenAI.UnprocessableEntityError, 422, 'run_limit');
  await expectError('upstream failed', create(agentClient, { input: 'UPSTREAM_FAIL' }), OpenAI.InternalServerError, 502, 'upstream_failed');
  await expectError('no such route under /v1/', () => agentClient.get('/no-such-route'), OpenAI.NotFoundError, 404, 'not_found');
  // A streamed run that fails after it started: one error event.
  await expectError('stream fails mid-way', async () => {
    const s = agentClient.responses.stream({ model: agentModel, input: 'LOOP forever' });
    for await (const _ of s) { /* drain */ }
  }, OpenAI.APIError, undefined, 'run_limit');
}

// agentsSDK runs the Agents SDK in its default mode (the Responses API),
// non-streaming and streaming.
async function agentsSDK() {
  setTracingDisabled(true);
  setDefaultOpenAIClient(agentClient);
  const ran = { send_email: [], wire_money: [], pay_invoice: [] };
  const mk = (name, params) => tool({ name, description: name, parameters: params,
    execute: async (a) => { ran[name].push(a); return name === 'send_email' ? `sent to ${a.to}` : 'done'; } });
  const tools = [
    mk('send_email', z.object({ to: z.string(), subject: z.string(), body: z.string() })),
    mk('wire_money', z.object({ account: z.string(), amount: z.number() })),
    mk('pay_invoice', z.object({ invoice: z.string() })),
  ];
  const mailer = new Agent({ name: 'mailer', instructions: 'You send e-mails.', model: ptModel, tools });
  for (const stream of [false, true]) {
    const go = async (input, agent = mailer) => {
      const r = await run(agent, input, { stream });
      if (stream) {
        for await (const _ of r) { /* drain */ }
        await r.completed;
      }
      return r;
    };
    const before = ran.send_email.length;
    const ok = await go('PLEASE_EMAIL bob@bank.example');
    assert.equal(ran.send_email.length, before + 1, 'the allowed tool ran once on the client');
    assert.match(ok.finalOutput, /done: sent to bob@bank.example/);
    out('agents-allowed', { stream });

    const hidden = await go('PLEASE_WIRE 1000');
    assert.equal(ran.wire_money.length, 0, 'a tool the caller may not use never runs');
    assert.match(hidden.finalOutput, /not permitted/);
    out('agents-hidden-tool', { stream });

    const cond = await go('PLEASE_EMAIL eve@evil.example');
    assert.equal(ran.send_email.length, before + 1, 'the refused call never ran');
    assert.match(cond.finalOutput, /not permitted/);
    out('agents-condition', { stream });

    const held = await go('PLEASE_PAY INV-7');
    assert.equal(ran.pay_invoice.length, 0, 'the held call did not run');
    assert.match(held.finalOutput, /awaits human approval/);
    out('agents-held', { stream });

    // A conversation holding a call released to admin, continued by agent.
    const adminMailer = mailer.clone({ model: new OpenAIResponsesModel(adminClient, ptModel) });
    const adm = await run(adminMailer, 'PLEASE_EMAIL erin@bank.example');
    await expectError(`agents SDK: another caller's call id (stream ${stream})`,
      () => go([...adm.history, { role: 'user', content: 'again' }]), OpenAI.BadRequestError, 400, 'unknown_tool_call');
  }
}

await openaiPackage();
await errorPaths();
await agentsSDK();
out('ok');
