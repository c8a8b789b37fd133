import { describe, expect, it } from 'vitest';
import { buildFfmpegPlan } from '../broadcast/buildFfmpegPlan.js';
import { computeLayout } from '../broadcast/computeLayout.js';
import { defaultLadder, defaultLatency } from '../broadcast/ladder.js';
import { burnedInCaptionFilter } from './burnedInCaptionFilter.js';
import { burnedInCaptionStyle } from './formatBurnedInText.js';

const font = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

describe('burnedInCaptionFilter()', () => {
	it('draws the reloaded caption file centred near the bottom, white on a dark box, sized for the canvas (golden)', () => {
		expect(burnedInCaptionFilter(font, '/tmp/tribune/job-1/captions.txt', { width: 1280, height: 720 })).toBe(
			'drawtext@captions=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:textfile=/tmp/tribune/job-1/captions.txt:reload=1:' +
				'expansion=none:fontsize=30:fontcolor=white:line_spacing=8:box=1:boxcolor=black@0.75:boxborderw=10:x=(w-text_w)/2:y=h-text_h-45',
		);
		expect(burnedInCaptionStyle({ width: 1280, height: 720 })).toEqual({ fontSize: 30, maxLineChars: 64, marginPx: 45 });
	});

	it.each(["/tmp/a b.txt", '/tmp/x:y.txt', "/tmp/it's.txt", '/tmp/../etc/passwd'])('refuses a path ffmpeg would need escaped: %s', (file) => {
		expect(() => burnedInCaptionFilter(font, file, { width: 1280, height: 720 })).toThrow(/would need escaped/);
	});

	it('is drawn on the composite after the name labels and before the split into renditions, only when asked for', () => {
		const layout = computeLayout({ speakers: [{ id: 'ada', name: 'Ada', video: true, muted: false }], pinned: [], activeSpeakerId: undefined }, { width: 1280, height: 720 });
		const io = {
			composite: true,
			sdpPath: '/tmp/tribune/job-1/stage.sdp',
			streams: new Map([['ada', { audio: 0, video: 1 }]]),
			workDir: '/tmp/tribune/job-1',
			fontFile: font,
			outputs: { '720p': 'unix:/tmp/a.sock', '360p': 'unix:/tmp/b.sock', audio: 'unix:/tmp/c.sock' },
		};
		const without = buildFfmpegPlan(layout, defaultLadder, defaultLatency, io);
		expect(without.filterGraph).not.toContain('captions');
		const withCaptions = buildFfmpegPlan(layout, defaultLadder, defaultLatency, { ...io, captionsFile: '/tmp/tribune/job-1/captions.txt' });
		const composite = withCaptions.filterGraph.split(';').find((chain) => chain.includes('drawtext@captions'))!;
		expect(composite).toMatch(/drawtext@captions=[^,]+,drawbox@active=/);
		expect(composite).toMatch(/split=2\[vs_720p\]\[vs_360p\]$/);
		// The audio-only ladder has no picture to draw on.
		const audioOnly = buildFfmpegPlan(layout, defaultLadder, defaultLatency, { ...io, composite: false, captionsFile: '/tmp/tribune/job-1/captions.txt' });
		expect(audioOnly.filterGraph).not.toContain('captions');
	});
});
