#!/usr/bin/env node
// Runs a Lambda handler written for Node unchanged behind shardscope's
// trigger --exec: `node runner.js module.handler` (module relative to the
// working directory, as Lambda's "index.handler"). The event comes on
// stdin; the handler's result goes to stdout as JSON. The handler may be
// async (return a promise) or take a callback. Its logs (console.*) go to
// stderr, as Lambda sends them to CloudWatch. A thrown error or a
// callback error exits 1 with Lambda's error JSON as stderr's last line.
'use strict';
const path = require('path');

const spec = process.argv[2];
if (!spec || spec.lastIndexOf('.') <= 0) {
  process.stderr.write('usage: node runner.js module.handler\n');
  process.exit(2);
}
const dot = spec.lastIndexOf('.');
const modPath = path.resolve(process.cwd(), spec.slice(0, dot));
const fnName = spec.slice(dot + 1);

// stdout carries only the reply.
const out = process.stdout.write.bind(process.stdout);
for (const m of ['log', 'info', 'debug', 'trace']) console[m] = console.error;

function fail(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  const doc = {errorType: e.name || 'Error', errorMessage: e.message, trace: (e.stack || '').split('\n')};
  process.stderr.write(JSON.stringify(doc) + '\n', () => process.exit(1));
}

function reply(result) {
  out(JSON.stringify(result === undefined ? null : result), () => process.exit(0));
}

const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  let handler;
  try {
    const mod = require(modPath);
    handler = mod[fnName];
    if (typeof handler !== 'function') throw new Error(`${spec} is undefined or not exported`);
  } catch (e) {
    if (!e.name || e.name === 'Error') e.name = 'Runtime.HandlerNotFound';
    return fail(e);
  }
  const event = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  const deadline = Number(process.env.SHARDSCOPE_DEADLINE_MS) || Date.now() + 3000;
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME || 'function',
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
    invokedFunctionArn: process.env.SHARDSCOPE_FUNCTION_ARN || '',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128',
    awsRequestId: process.env.SHARDSCOPE_REQUEST_ID || '',
    logGroupName: '', logStreamName: '',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let settled = false;
  const callback = (err, result) => {
    if (settled) return;
    settled = true;
    if (err) fail(err); else reply(result);
  };
  try {
    const r = handler(event, context, callback);
    if (r && typeof r.then === 'function') {
      const v = await r;
      callback(null, v);
    } else if (handler.length < 3) {
      callback(null, r);
    }
  } catch (e) {
    callback(e);
  }
});
