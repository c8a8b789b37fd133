import { afterEach, describe, expect, it, vi } from 'vitest';
import { ScreenShareView } from './ScreenShareView.js';

/** A stand-in for a MediaStream (nothing here reads it; Node has none). */
const stream = (id: string) => ({ id }) as unknown as MediaStream;

/** Whether a promise has settled, after pending callbacks ran. */
async function settled(p: Promise<void> | undefined): Promise<boolean> {
	if (!p) return true;
	let done = false;
	void p.then(() => (done = true));
	await Promise.resolve();
	await Promise.resolve();
	return done;
}

const tess = { consumerId: 'c-tess', producerId: 'p-tess', participantId: 'tess', stream: stream('s-tess') };
const sam = { consumerId: 'c-sam', producerId: 'p-sam', participantId: 'sam', stream: stream('s-sam') };

/** Tess's share received, another share (`producerId`) announced, then Tess's consumer ended: what `ended` answered. */
function tessReplacedBy(views: ScreenShareView, producerId = 'p-sam'): Promise<void> | undefined {
	views.received(tess);
	views.announced({ producerId });
	return views.ended('c-tess');
}

describe('ScreenShareView', () => {
	afterEach(() => vi.useRealTimers());

	it('a replaced share ended before its successor arrived keeps its picture and its consumer until the successor shows', async () => {
		const views = new ScreenShareView();
		views.received(tess);
		views.remote.value!.shown();
		views.announced({ producerId: 'p-sam' });
		const held = views.ended('c-tess');
		expect(views.remote.value?.participantId).toBe('tess');
		expect(await settled(held)).toBe(false);
		views.received(sam);
		expect(views.remote.value?.participantId).toBe('sam');
		expect(await settled(held)).toBe(false);
		views.remote.value!.shown();
		expect(await settled(held)).toBe(true);
		expect(views.remote.value?.participantId).toBe('sam');
	});

	it('a replaced share ended after its successor arrived is held until the successor shows, and closes at once after', async () => {
		const views = new ScreenShareView();
		views.received(tess);
		views.announced({ producerId: 'p-sam' });
		views.received(sam);
		const held = views.ended('c-tess');
		expect(await settled(held)).toBe(false);
		views.remote.value!.shown();
		expect(await settled(held)).toBe(true);

		const next = { ...tess, consumerId: 'c-tess-2', producerId: 'p-tess-2' };
		views.announced({ producerId: 'p-tess-2' });
		views.received(next);
		views.remote.value!.shown();
		expect(views.ended('c-sam')).toBeUndefined();
	});

	it('the same speaker sharing anew is handed over like a replacement', async () => {
		const views = new ScreenShareView();
		const held = tessReplacedBy(views, 'p-tess-2');
		expect(views.remote.value?.participantId).toBe('tess');
		views.received({ ...tess, consumerId: 'c-tess-2', producerId: 'p-tess-2', stream: stream('s-tess-2') });
		views.remote.value!.shown();
		expect(await settled(held)).toBe(true);
		expect(views.remote.value?.stream.id).toBe('s-tess-2');
	});

	it('a share that ends with no other on stage goes at once', () => {
		const views = new ScreenShareView();
		views.received(tess);
		views.announced(null);
		expect(views.ended('c-tess')).toBeUndefined();
		expect(views.remote.value).toBeUndefined();
	});

	it('a share whose end is not yet announced goes at once (nothing says it was replaced)', () => {
		const views = new ScreenShareView();
		views.announced({ producerId: 'p-tess' });
		views.received(tess);
		expect(views.ended('c-tess')).toBeUndefined();
		expect(views.remote.value).toBeUndefined();
	});

	it('replaced by our own share: held until our preview shows, then no remote share remains', async () => {
		const views = new ScreenShareView();
		const held = tessReplacedBy(views, 'p-mine');
		expect(views.remote.value?.participantId).toBe('tess');
		const preview = views.view('me', stream('s-mine'), true);
		preview.shown();
		expect(await settled(held)).toBe(true);
		expect(views.remote.value).toBeUndefined();
	});

	it('our own share replaced keeps its preview until the successor shows, or goes at once if a later picture already shows', async () => {
		const views = new ScreenShareView();
		const preview = views.view('me', stream('s-mine'), true);
		preview.shown();
		views.announced({ producerId: 'p-sam' });
		const held = views.replaced(preview);
		expect(await settled(held)).toBe(false);
		views.received(sam);
		expect(await settled(held)).toBe(false);
		views.remote.value!.shown();
		expect(await settled(held)).toBe(true);
		expect(await settled(views.replaced(preview))).toBe(true);
	});

	it('a held share goes when the space then has no share, or after the hold', async () => {
		const views = new ScreenShareView({ holdMs: 1000 });
		const held = tessReplacedBy(views);
		views.announced(null);
		expect(await settled(held)).toBe(true);
		expect(views.remote.value).toBeUndefined();

		vi.useFakeTimers();
		views.received(sam);
		views.announced({ producerId: 'p-other' });
		const waiting = views.ended('c-sam');
		vi.advanceTimersByTime(999);
		expect(await settled(waiting)).toBe(false);
		expect(views.remote.value?.participantId).toBe('sam');
		vi.advanceTimersByTime(1);
		expect(await settled(waiting)).toBe(true);
		expect(views.remote.value).toBeUndefined();
	});

	it('leaving the stage releases what is held and shows nothing; other consumers are not its business', async () => {
		const views = new ScreenShareView();
		const held = tessReplacedBy(views);
		views.clear();
		expect(await settled(held)).toBe(true);
		expect(views.remote.value).toBeUndefined();
		expect(views.ended('c-camera')).toBeUndefined();
	});
});
