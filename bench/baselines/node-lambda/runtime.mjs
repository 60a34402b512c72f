// A small Lambda runtime loop, as the Node.js managed runtime runs handlers:
// import the handler module (its top level runs once, as in Lambda's init),
// then fetch an event, call the handler, post the answer, forever.
const api = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const { handler } = await import(new URL(process.argv[2], import.meta.url));
for (;;) {
  const next = await fetch(`${api}/invocation/next`);
  const id = next.headers.get("lambda-runtime-aws-request-id");
  const event = await next.json();
  try {
    const result = await handler(event);
    await fetch(`${api}/invocation/${id}/response`, { method: "POST", body: JSON.stringify(result ?? null) });
  } catch (err) {
    await fetch(`${api}/invocation/${id}/error`, { method: "POST", body: JSON.stringify({ errorMessage: String(err), errorType: err?.name }) });
  }
}
