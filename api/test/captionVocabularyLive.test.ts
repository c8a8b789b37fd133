import { connectRedis, normaliseWords, subscribeCaptions, type CaptionCue } from '@tribune/transcoder';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTribuneUnderLoad, type TribuneUnderLoad } from './load/tribuneUnderLoad.js';
import { until } from './origin/support/fetchText.js';
import { postJson } from './support/startTestNode.js';
import { SubtitleTrack } from './support/subtitleTrack.js';

/**
 * A host's word list followed into a running broadcast's recognisers, through Tribune as `npm start` runs it (private
 * Redis, API node with mediasoup, transcoder with PocketSphinx): a synthetic speaker loops a line with two words the
 * general model cannot say (the same line and voice as transcoder/test/captions/vocabularyEngine.test.ts); the
 * listeners' subtitles track shows it without them until the host gives the words over REST, and with them after.
 * The change lands mid-line, and each recogniser is replaced make-before-break: the old one captions that line to its
 * end while the new one loads, and the new one captions from the next line on, so nothing said is lost or shown twice.
 *
 * Listeners read captions from the LL-HLS subtitles rendition (the signaling relay sends them only to those on
 * stage), so that is what is checked; the space's caption channel is read too, for what the track cannot show:
 * partials (an utterance in progress when its recogniser is replaced must still get its final, and the new one's must
 * not cover what the old one captioned) and wall-clock utterance times.
 */
const line = 'siobhan okonkwo will talk about grafana dashboards';
const words = ['Okonkwo', 'Grafana'];
const speakerName = 'Siobhan';
/** The transcoder applies a change this long after its announcement (BroadcastCaptions' debounce). */
const debounceMs = 2000;

const sayWords = (text: string): boolean => /\b(okonkwo|grafana)\b/i.test(text);
const saysBoth = (text: string): boolean => /\bokonkwo\b/i.test(text) && /\bgrafana\b/i.test(text);
/**
 * The line heard whole, not begun before captioning began nor cut by a recogniser's replacement: its middle ("talk
 * about", which the general model gets right) with words heard before it and where "grafana dashboards" are said.
 */
const wholeLine = (text: string): boolean => {
	const heard = normaliseWords(text);
	const about = heard.findIndex((word, i) => word === 'about' && heard[i - 1] === 'talk');
	return about >= 3 && heard.length - about > 2;
};
/** A recogniser's cues share the prefix of their ids (`SpeakerCaptioner`: `<recogniser>-<utterance>`). */
const recogniserOf = (cue: CaptionCue): string => cue.id.slice(0, cue.id.lastIndexOf('-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

let tribune: TribuneUnderLoad;
let subscriber: Redis | undefined;

beforeAll(async () => {
	tribune = await startTribuneUnderLoad();
}, 90_000);
afterAll(async () => {
	subscriber?.disconnect();
	await tribune?.stop();
});

describe("a host's caption words in a running broadcast", () => {
	it('reach its recognisers: the same line is captioned with the words after the change, and a listener cannot make it', { timeout: 180_000 }, async () => {
		const base = tribune.baseUrl;
		const created = await postJson(`${base}/api/spaces`, { title: 'Tuesday talks', hostName: 'Hana Host', settings: { video: false, captionMode: 'sidecar' } });
		expect(created.status).toBe(201);
		const spaceId = created.body.space!.id;
		const hostToken = created.body.token!;
		expect((await postJson(`${base}/api/spaces/${spaceId}/start`, {}, hostToken)).status).toBe(200);

		// Everything the broadcast publishes, partials included, with when it arrived.
		const published: (CaptionCue & { at: number })[] = [];
		subscriber = connectRedis(tribune.redisUrl!, 'test-captions');
		await subscribeCaptions(subscriber, tribune.redisPrefix, spaceId, (cue) => published.push({ ...cue, at: Date.now() }));
		const track = new SubtitleTrack(`${base}/hls/${spaceId}/subs/index.m3u8`);
		const t0 = Date.now();
		const at = (ms: number): string => `${((ms - t0) / 1000).toFixed(1)}s`;
		const timeline = (): string => published.filter((c) => c.final).map((c) => `[${at(c.startMs)}–${at(c.endMs)} @${at(c.at)} ${recogniserOf(c)}] ${c.text}`).join('\n');
		const wait = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> =>
			until(probe, timeoutMs, what).catch((error: unknown) => {
				throw new Error(`${String(error)}\nfinals published:\n${timeline()}\nsubtitles track: ${JSON.stringify(track.cues)}`);
			});

		// A listener's change is refused before anyone speaks; had it gone through, recognisers started after it (or
		// replaced 2 s after it) would know the words.
		const listener = await postJson(`${base}/api/spaces/${spaceId}/join`, { displayName: 'Lee Listener' });
		const refusedAt = Date.now();
		const refused = await postJson(`${base}/api/spaces/${spaceId}/vocabulary`, { words }, listener.body.token!);
		expect([refused.status, refused.body.error?.code]).toEqual([403, 'forbidden']);

		const added = await postJson(`${base}/api/spaces/${spaceId}/synthetic-speakers`, { displayName: speakerName, text: line, voice: 'kal16' }, hostToken);
		expect(added.status).toBe(201);

		// Two whole lines in the listeners' track without the words, one said well after the refused change could have
		// reached a recogniser (debounce, a model load of up to 5 s, the line itself).
		const before = await wait('two whole lines of the speaker in the subtitles track, one first seen ≥ 12 s after the refused change', async () => {
			const lines = (await track.read()).filter((c) => c.voice === speakerName && wholeLine(c.text));
			return lines.length >= 2 && lines.some((c) => c.seenAt >= refusedAt + 12_000) ? lines : undefined;
		}, 60_000);
		expect(track.cues.filter((c) => sayWords(c.text)), timeline()).toEqual([]);
		expect(published.filter((c) => sayWords(c.text)), timeline()).toEqual([]);

		// The change is sent 0.3 s before the line is next due (the loop's period from the whole lines' finals), so the
		// recognisers are replaced about 1.7 s into it (the debounce), the case where a caption could be lost.
		const starts = published.filter((c) => c.final && wholeLine(c.text)).map((c) => c.startMs);
		expect(starts.length, timeline()).toBeGreaterThanOrEqual(2);
		const periodMs = Math.min(...starts.slice(1).map((s, i) => s - starts[i]!));
		let dueAt = starts.at(-1)! + periodMs;
		while (dueAt - 300 < Date.now()) dueAt += periodMs;
		await sleep(dueAt - 300 - Date.now());
		const changedAt = Date.now();
		expect((await postJson(`${base}/api/spaces/${spaceId}/vocabulary`, { words }, hostToken)).status).toBe(200);

		const withWords = await wait('the line with "okonkwo" and "grafana" in the subtitles track', async () => (await track.read()).find((c) => c.voice === speakerName && saysBoth(c.text)), 60_000);
		const publishedWithWords = published.find((c) => c.final && c.text === withWords.text);
		if (!publishedWithWords) throw new Error(`"${withWords.text}" is in the track but was never published:\n${timeline()}`);
		// Said after the change was applied, by a recogniser started with the words.
		expect(publishedWithWords.startMs).toBeGreaterThan(changedAt + debounceMs);

		// Nothing lost at the replacement: every utterance that had a partial got its final; the replaced recogniser
		// captioned the line it was in when the change came to its end (its last final is the whole line, not one cut
		// where the new recogniser was started), and that final reached the listeners' track too.
		const unfinished = [...new Set(published.filter((c) => !c.final && c.at < publishedWithWords.at).map((c) => c.id))].filter((id) => !published.some((c) => c.final && c.id === id));
		expect(unfinished, timeline()).toEqual([]);
		const replaced = published.filter((c) => c.final && c.at < publishedWithWords.at && recogniserOf(c) !== recogniserOf(publishedWithWords)).at(-1)!;
		expect(wholeLine(replaced.text), `the replaced recogniser's last final "${replaced.text}" is the whole line\n${timeline()}`).toBe(true);
		expect(replaced.endMs, timeline()).toBeGreaterThan(changedAt + debounceMs);
		await wait(`the replaced recogniser's last final ("${replaced.text}") in the subtitles track`, async () => ((await track.read()).some((c) => c.text === replaced.text && c.seenAt >= replaced.at) ? true : undefined), 10_000);
		// Nothing shown twice: the new recogniser, started mid-line, publishes nothing (partials included) for speech before
		// the end of the replaced one's last final, and its first final is the next line, whole.
		const successor = published.filter((c) => recogniserOf(c) === recogniserOf(publishedWithWords) && c.at <= publishedWithWords.at);
		expect(successor.filter((c) => c.startMs < replaced.endMs).map((c) => c.text), timeline()).toEqual([]);
		const successorFirst = successor.find((c) => c.final)!;
		expect(wholeLine(successorFirst.text), `the new recogniser's first final "${successorFirst.text}" is a whole line\n${timeline()}`).toBe(true);

		console.log(
			`whole lines without the words: ${before.length}; change sent ${at(changedAt)}, due line at ${at(dueAt)}; ` +
				`replaced recogniser's last final "${replaced.text}" (${at(replaced.startMs)}–${at(replaced.endMs)}, published @${at(replaced.at)}); ` +
				`new recogniser's first final "${successorFirst.text}" (${at(successorFirst.startMs)}–${at(successorFirst.endMs)}, published @${at(successorFirst.at)}); ` +
				`first line with the words said from ${at(publishedWithWords.startMs)}, published ${publishedWithWords.at - changedAt} ms and in the track ${withWords.seenAt - changedAt} ms after the change: "${withWords.text}"\n${timeline()}`,
		);
	});
});
