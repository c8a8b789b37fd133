import { describe, expect, it } from 'vitest';
import { buildPcmDecoderArgs } from './buildPcmDecoderArgs.js';

describe('buildPcmDecoderArgs()', () => {
	it('decodes the SDP stream to 16 kHz mono s16le on stdout with one thread and no buffering', () => {
		expect(buildPcmDecoderArgs('/tmp/job/speaker-p1.sdp').join(' ')).toBe(
			'-hide_banner -nostdin -loglevel error -threads 1 -protocol_whitelist file,udp,rtp -fflags +nobuffer -flags low_delay ' +
				'-use_wallclock_as_timestamps 1 -analyzeduration 0 -probesize 32 -f sdp -i /tmp/job/speaker-p1.sdp ' +
				'-map 0:a:0 -vn -ac 1 -ar 16000 -f s16le -flush_packets 1 pipe:1',
		);
	});
});
