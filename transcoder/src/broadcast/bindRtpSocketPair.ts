import dgram from 'node:dgram';

/**
 * Two UDP sockets on `host`: RTP on an even port and RTCP on the port after it, what a mediasoup PlainTransport's
 * `connect()` aims at (the broadcast's slot relays). Up to 50 tries, since the pair is found one port at a time.
 */
export async function bindRtpSocketPair(host: string, owner: string): Promise<{ rtp: dgram.Socket; rtcp: dgram.Socket }> {
	const type = host.includes(':') ? 'udp6' : 'udp4';
	for (let attempt = 0; attempt < 50; attempt++) {
		const rtp = dgram.createSocket(type);
		const port = await bind(rtp, host, 0);
		if (port % 2 !== 0 || port === 65535) {
			rtp.close();
			continue;
		}
		const rtcp = dgram.createSocket(type);
		try {
			await bind(rtcp, host, port + 1);
		} catch {
			rtp.close();
			rtcp.close();
			continue;
		}
		return { rtp, rtcp };
	}
	throw new Error(`${owner}: no free even UDP port pair`);
}

function bind(socket: dgram.Socket, host: string, port: number): Promise<number> {
	return new Promise((resolve, reject) => {
		socket.once('error', reject);
		socket.bind({ address: host, port, exclusive: true }, () => {
			socket.off('error', reject);
			resolve(socket.address().port);
		});
	});
}
