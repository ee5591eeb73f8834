// SPDX-License-Identifier: Apache-2.0
// The official OpenAI SDK against steward: one plain chat completion, one
// streamed, one embeddings call, one error.  Prints one JSON object with what
// the SDK saw; tests/integration/test_sdk.py asserts on it.
//   node sdk_client.mjs BASE_URL
import OpenAI from "openai";

const baseURL = process.argv[2] + "/v1";
const client = new OpenAI({ apiKey: process.env.OPENAI_API_KEY || "sk-test", baseURL, maxRetries: 0 });
const out = {};

const { data: chat, response } = await client.chat.completions
  .create({
    model: "local-llama",
    temperature: 0.7,
    messages: [{ role: "user", content: "Write to jane.doe@example.com about the renewal." }],
  })
  .withResponse();
out.chat = { content: chat.choices[0].message.content, record: response.headers.get("x-steward-record"),
             decision: response.headers.get("x-steward-decision"), usage: chat.usage };

const stream = await client.chat.completions.create({
  model: "local-llama",
  stream: true,
  messages: [{ role: "user", content: "Summarise the ticket from ann@example.com." }],
});
let text = "";
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  text += chunk.choices[0]?.delta?.content || "";
}
out.stream = { text, chunks };

const emb = await client.embeddings.create({ model: "local-embed", input: ["from sam.lee@example.org", "plain"] });
out.embeddings = { n: emb.data.length, dim: emb.data[0].embedding.length };

try {
  await client.chat.completions.create({
    model: "external-gpt-4o",
    messages: [{ role: "user", content: "Charge 4111 1111 1111 1111." }],
  });
  out.deny = { status: 200 };
} catch (e) {
  out.deny = { status: e.status, code: e.code, type: e.type, message: e.message };
}
console.log(JSON.stringify(out));
