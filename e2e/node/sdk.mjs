// Drives duckgate's OpenAI-compatible API with the official openai Node
// package, unmodified: its baseURL is the backend's /v1 and its apiKey a
// duckgate API key. Run by e2e/openai_sdk_test.go with DUCKGATE_V1 and
// DUCKGATE_KEY set; exits non-zero on the first failed check.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.DUCKGATE_V1;
const apiKey = process.env.DUCKGATE_KEY;
assert.ok(baseURL && apiKey, 'DUCKGATE_V1 and DUCKGATE_KEY must be set');

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
const model = 'openai/gpt-4o-mini';

async function check(name, fn) {
  await fn();
  console.log(`ok - ${name}`);
}

await check('models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes(model), `models: ${ids}`);
});

await check('chat with content parts and the developer role', async () => {
  const out = await client.chat.completions.create({
    model,
    max_completion_tokens: 64,
    messages: [
      { role: 'developer', content: 'Answer briefly.' },
      { role: 'user', content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'https://example.com/duck.png' } },
      ] },
    ],
  });
  assert.equal(out.object, 'chat.completion');
  assert.match(out.choices[0].message.content, /What is this\?/);
  assert.ok(out.usage.total_tokens > 0);
});

await check('stream with usage', async () => {
  const stream = await client.chat.completions.create({
    model, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'stream to me' }],
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.match(text, /stream to me/);
  assert.ok(usage && usage.total_tokens > 0, 'no usage chunk');
});

const tools = [{ type: 'function', function: {
  name: 'get_weather', description: 'The weather in a city',
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
} }];

await check('tool call round trip', async () => {
  const messages = [{ role: 'user', content: 'Paris' }];
  const first = await client.chat.completions.create({ model, tools, messages });
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  const call = choice.message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris' });
  messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 degrees' });
  const second = await client.chat.completions.create({ model, tools, messages });
  assert.match(second.choices[0].message.content, /sunny, 21 degrees/);
});

await check('streamed tool call (the SDK helper)', async () => {
  const runner = client.chat.completions.stream({ model, tools, messages: [{ role: 'user', content: 'Oslo' }] });
  const done = await runner.finalChatCompletion();
  const call = done.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Oslo' });
});

await check('image as b64_json', async () => {
  const out = await client.images.generate({ model: 'black-forest-labs/flux.2-pro', prompt: 'a duck',
    size: '1024x1024', response_format: 'b64_json' });
  const png = Buffer.from(out.data[0].b64_json, 'base64');
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
});

await check('typed errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, n: 2, messages: [{ role: 'user', content: 'hi' }] }),
    (err) => err instanceof OpenAI.UnprocessableEntityError && err.status === 422 &&
      err.param === 'n' && /only 1 choice/.test(err.message),
  );
  const wrong = new OpenAI({ baseURL, apiKey: 'dg_' + 'x'.repeat(43), maxRetries: 0 });
  await assert.rejects(wrong.models.list(),
    (err) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_api_key');
});

console.log('all SDK checks passed');
