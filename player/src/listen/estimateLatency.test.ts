import { describe, expect, it } from 'vitest';
import { estimateLatencyMs } from './estimateLatency.js';

const playlist = `#EXTM3U
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6.0
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXT-X-PART:DURATION=0.5,URI="part-1.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.5,URI="part-2.m4s"
#EXTINF:1.0,
seg-1.m4s
#EXT-X-PART:DURATION=0.2,URI="part-3.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="part-4.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-5.m4s"
`;

describe('estimateLatencyMs', () => {
	it('is the age of the newest part plus the part hold-back, counting each part once', () => {
		// The edge is 1.0 s (segment) + 0.4 s (parts of the next one) after the PDT.
		expect(estimateLatencyMs(playlist, Date.parse('2026-01-01T00:00:01.700Z'))).toBe(300 + 600);
	});

	it('has no estimate without a PROGRAM-DATE-TIME', () => {
		expect(estimateLatencyMs('#EXTM3U\n#EXTINF:1.0,\nseg-1.m4s\n', 0)).toBeUndefined();
	});
});
