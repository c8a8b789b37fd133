import Hls, { type Level } from 'hls.js';
import { onBeforeUnmount, ref, shallowRef } from 'vue';
import { captionText, liveHlsConfig, replayHlsConfig } from './hlsConfig.js';
import { planCatchUp } from './liveCatchUp.js';
import { edgeOf, EdgeWaits } from './edgeWaits.js';
import { bufferedAheadS, gapEndS, planHoleSkip, type PlaylistSpan } from './bufferedMedia.js';
import { blockedMs, LiveTarget, liveTargetDefaults, type PageTick } from './liveTarget.js';
import { replayTimeOf } from './replayTime.js';

export interface QualityOption {
	/** hls.js level index; -1 is automatic. */
	index: number;
	label: string;
	audioOnly: boolean;
}

export type PlayerStatus = 'idle' | 'loading' | 'playing' | 'paused' | 'ended' | 'reconnecting' | 'stopped' | 'error';

/** Tribune's part duration, for a playlist whose PART-INF hls.js has not read yet, s. */
const defaultPartTargetS = 0.2;
/** How often the player looks at its playback (latency, stalls, rate), ms. */
const tickMs = 250;
/**
 * Stall watchdog: media time not moving while it should play (or a seek not ending), or the picture frozen while the
 * sound goes on, for this long starts a recovery; each further one waits as long again, ms.
 */
const stallRecoverMs = 3000;
/**
 * The watchdog's first step for media time stopped with media buffered where it stands (as much as makes a stall not
 * one for want of media: `LiveTarget`'s `starvedBelowS`): not a wait for the network but a decoder that will not go
 * on (in `bench:pressure`, at a run switch's discontinuity, until the seek 3.2 s later), ms. A busy page's own short
 * stops (20–300 ms there) end well before it.
 */
const stuckWithMediaMs = 1000;

/**
 * A listener's player: hls.js on one <video> element (audio spaces too: it carries the sound and the captions),
 * with play/pause, volume, jump to live, quality and audio-only, captions, and an audio level from a Web Audio
 * analyser. `stop()` tears hls.js down (a listener promoted to the stage hears the speakers over WebRTC instead);
 * `load()` starts again at the live edge.
 */
export function useHlsPlayer() {
	const status = ref<PlayerStatus>('idle');
	const qualities = ref<QualityOption[]>([]);
	const quality = ref(-1);
	const audioOnly = ref(false);
	const volume = ref(1);
	const muted = ref(false);
	const captionsAvailable = ref(false);
	const captionsOn = ref(false);
	const caption = ref<{ speaker: string | null; text: string } | null>(null);
	const behindLiveS = ref<number | null>(null);
	/** RMS of what plays, 0–1, every 100 ms. */
	const level = ref(0);
	/** Replay position and length, seconds (live: null). */
	const position = ref(0);
	const duration = ref<number | null>(null);
	const hlsRef = shallowRef<Hls | undefined>();
	/** The last few hls.js errors (details), for diagnostics. */
	const errors: string[] = [];

	let video: HTMLVideoElement | undefined;
	let audio: { context: AudioContext; analyser: AnalyserNode } | undefined;
	let live = true;
	let url = '';
	let jumps = 0;
	let lastJumpAt: number | undefined;
	let loadedAt = 0;
	/** Stall watchdog: when media time and the picture last moved on, and its recoveries since playback last flowed. */
	let progressAt = 0;
	let lastTime = -1;
	let framesAt = 0;
	let lastFrames = -1;
	let watchdogRecoveries = 0;
	/** Pauses the listener asked for, counted (an interrupted start is not tried again over one). */
	let pausedByListener = 0;
	/** The latency a live listener aims at, moved back by stalls (see LiveTarget); the media time a stall began at. */
	const liveTarget = new LiveTarget(performance.now());
	let stalledAtTime: number | undefined;
	/** How long new media took to come, per rendition: a wait moves the target back before it stalls (LiveTarget.late). */
	const edgeWaits = new EdgeWaits();
	/** When the tick last ran, and whether the page was in sight since: see `blockedMs`. */
	let lastTick: PageTick | undefined;
	let recoverTimer: ReturnType<typeof setTimeout> | undefined;
	/** The multivariant playlist asked for (audio-only plays its audio rendition instead). */
	let sourceUrl = '';
	/** A replay position to go on from after switching renditions. */
	let startAt: number | undefined;
	/**
	 * Set by reloadReplay(): the moment to go on from (its program date-time, and its distance from the end should
	 * the new playlist carry no dates) and whether to play on, applied once the new playlist is loaded.
	 */
	let resume: { dateMs: number | undefined; fromEndS: number; play: boolean } | undefined;
	/** A load() asked for before the element was attached. */
	let pending: { url: string; live: boolean } | undefined;
	const timers: ReturnType<typeof setInterval>[] = [];

	const onCueChange = (e: Event) => {
		const cues = (e.target as TextTrack).activeCues;
		const last = cues && cues.length ? (cues[cues.length - 1] as VTTCue) : undefined;
		caption.value = last ? captionText(last.text) : null;
	};

	function attach(element: HTMLVideoElement): void {
		video = element;
		element.addEventListener('playing', () => (status.value = 'playing'));
		element.addEventListener('ended', () => (status.value = 'ended'));
		element.addEventListener('waiting', () => {
			// A wait right after a jump of the player's own is that jump's load, not a stall.
			if (!live || status.value !== 'playing' || element.seeking || (lastJumpAt !== undefined && performance.now() - lastJumpAt < 2000)) return;
			stalledAtTime ??= element.currentTime;
			liveTarget.stalled(performance.now(), bufferedAheadS(element.buffered, element.currentTime));
		});
		element.addEventListener('timeupdate', () => {
			position.value = element.currentTime;
			duration.value = !live && Number.isFinite(element.duration) ? element.duration : null;
		});
		element.addEventListener('pause', () => {
			edgeWaits.reset();
			if (status.value === 'playing' || status.value === 'loading') status.value = 'paused';
		});
		element.textTracks.addEventListener('addtrack', (e) => {
			const track = (e as TrackEvent).track;
			track?.addEventListener('cuechange', onCueChange);
			if (track && !hlsRef.value) showNativeTrack(track, captionsOn.value);
		});
		timers.push(setInterval(tick, tickMs), setInterval(measureLevel, 100));
		document.addEventListener('visibilitychange', onVisibility);
		if (pending) loadInternal(pending.url, pending.live);
	}

	/** Routes the element through an analyser (created on first play: an AudioContext wants a user gesture). */
	function ensureAnalyser(): void {
		if (audio || !video) return;
		try {
			const context = new AudioContext();
			const analyser = context.createAnalyser();
			analyser.fftSize = 1024;
			context.createMediaElementSource(video).connect(analyser).connect(context.destination);
			audio = { context, analyser };
		} catch (error) {
			console.warn('player: no audio analyser', error);
		}
	}

	function measureLevel(): void {
		if (!audio || !video || video.paused) {
			level.value = 0;
			return;
		}
		if (audio.context.state === 'suspended') void audio.context.resume();
		const samples = new Float32Array(audio.analyser.fftSize);
		audio.analyser.getFloatTimeDomainData(samples);
		let sum = 0;
		for (const s of samples) sum += s * s;
		level.value = Math.sqrt(sum / samples.length);
	}

	/** A tick interval the page spent partly hidden tells nothing of blocks. */
	function onVisibility(): void {
		if (lastTick) lastTick.visible = false;
		edgeWaits.reset();
	}

	/**
	 * A live playlist of `kind` came: a wait for new media longer than the margin covers moves the target back (while
	 * playing; a paused listener's waits are not its buffer's).
	 */
	function followEdge(kind: string, rendition: number, edge: number, partHoldBackS: number): void {
		const now = performance.now();
		const waitS = edgeWaits.loaded(kind, rendition, now, edge);
		if (waitS > 0 && live && status.value === 'playing' && partHoldBackS > 0) liveTarget.late(now, waitS, partHoldBackS);
	}

	function tick(): void {
		const now = performance.now();
		const previous = lastTick;
		lastTick = { atMs: now, visible: document.visibilityState === 'visible' };
		const blocked = blockedMs(previous, lastTick);
		const hls = hlsRef.value;
		if (!hls || !video || !live) {
			behindLiveS.value = null;
			return;
		}
		if (blocked > 0 && status.value === 'playing') liveTarget.blocked(now, blocked / 1000);
		behindLiveS.value = hls.latency || null;
		followStalls(hls, video);
		watchStalls(hls);
		holdTarget(hls, video);
	}

	/** Holds the target latency (see `planCatchUp`): a jump, or a playback rate (1× unless catching up). */
	function holdTarget(hls: Hls, media: HTMLVideoElement): void {
		const target = hls.liveSyncPosition;
		if (status.value !== 'playing' || media.paused || media.seeking || target === null || hls.targetLatency === null) {
			setRate(media, 1);
			return;
		}
		const b = media.buffered;
		const plan = planCatchUp({
			latencyS: hls.latency,
			targetS: hls.targetLatency,
			syncPositionS: target,
			currentTimeS: media.currentTime,
			bufferedEndS: b.length ? b.end(b.length - 1) : 0,
			partS: hls.levels[hls.currentLevel]?.details?.partTarget || defaultPartTargetS,
			nowMs: performance.now(),
			lastJumpAtMs: lastJumpAt,
			jumps,
			sinceLoadMs: performance.now() - loadedAt,
		});
		if ('jumpTo' in plan) {
			setRate(media, 1);
			media.currentTime = plan.jumpTo;
			jumps++;
			lastJumpAt = performance.now();
		} else {
			setRate(media, plan.rate);
		}
	}

	/**
	 * Moves hls.js' target latency to the stream's own (PART-HOLD-BACK) plus the margin stalls have earned (see
	 * LiveTarget); a stall ends when media time moves past where it began.
	 */
	function followStalls(hls: Hls, media: HTMLVideoElement): void {
		const now = performance.now();
		if (stalledAtTime !== undefined && !media.seeking && media.currentTime > stalledAtTime + 0.01) {
			stalledAtTime = undefined;
			liveTarget.flowing(now);
		}
		const details = hls.levels[hls.currentLevel]?.details;
		const base = details ? details.partHoldBack || details.holdBack : 0;
		const current = hls.targetLatency;
		if (!base || current === null) return;
		const wanted = Math.round((base + liveTarget.extraS(now)) * 100) / 100;
		if (Math.abs(current - wanted) >= 0.05) hls.targetLatency = wanted;
	}

	function setRate(media: HTMLVideoElement, rate: number): void {
		// The pitch stays (Chromium's default; said so for the others).
		media.preservesPitch = true;
		if (media.playbackRate !== rate) media.playbackRate = rate;
	}

	/**
	 * hls.js recovers from a gap in the buffer by itself; this watches what it does not: media time not moving while it
	 * should play (no buffer ahead, or a seek that never ends), or the picture frozen while the sound goes on (a video
	 * rendition whose decoder stopped). Each `stallRecoverMs` without progress (the first step sooner with media
	 * buffered where the playhead stopped: `stuckWithMediaMs`) takes the next step: a seek to the
	 * target (over whatever stopped it), hls.js' media recovery (a new media source), then a reload from the live edge;
	 * the steps start over once playback flows again.
	 */
	function watchStalls(hls: Hls): void {
		if (!video || video.paused) {
			progressAt = framesAt = performance.now();
			return;
		}
		const now = performance.now();
		if (video.currentTime !== lastTime && !video.seeking) {
			lastTime = video.currentTime;
			progressAt = now;
		}
		// Frames shown: a video rendition's count moves on as it plays (an audio-only one has no picture to freeze).
		// A hidden tab's browser may stop decoding the picture on purpose: only the time counts there.
		const watchPicture = video.videoWidth > 0 && !audioOnly.value && document.visibilityState === 'visible';
		const frames = watchPicture ? (video.getVideoPlaybackQuality?.().totalVideoFrames ?? -1) : -1;
		if (frames !== lastFrames || frames < 0) {
			lastFrames = frames;
			framesAt = now;
		}
		const stalledFor = now - Math.min(progressAt, framesAt);
		// Stopped at a gap, or in a hole with media past it: step over it (see planHoleSkip) rather than wait for the watchdog.
		const skipTo = live && !video.seeking ? planHoleSkip(video.buffered, video.currentTime, stalledFor, playlistGapEnd(hls, video.currentTime)) : undefined;
		if (skipTo !== undefined) {
			errors.push(`stepped over a hole from ${video.currentTime.toFixed(2)} to ${skipTo.toFixed(2)} after ${Math.round(stalledFor)} ms`);
			if (errors.length > 20) errors.shift();
			video.currentTime = skipTo;
			// The step is progress: the watchdog's count starts again from it.
			lastJumpAt = progressAt = framesAt = now;
			return;
		}
		if (progressAt === now && framesAt === now && status.value === 'playing') watchdogRecoveries = 0;
		// Sooner only for media time stopped: a busy page may paint no new picture for a second and more while its
		// sound plays on (bench:pressure's listener waited up to 2 s for a core at a time).
		const timeStuck = progressAt <= framesAt && bufferedAheadS(video.buffered, video.currentTime) >= liveTargetDefaults.starvedBelowS;
		const firstStepMs = timeStuck ? stuckWithMediaMs : stallRecoverMs;
		if (stalledFor <= (watchdogRecoveries === 0 ? firstStepMs : stallRecoverMs * (watchdogRecoveries + 1))) return;
		const step = watchdogRecoveries++;
		const what = progressAt < framesAt ? 'time' : 'picture';
		errors.push(`watchdog step ${step + 1} after ${Math.round(stalledFor)} ms (${what} stopped) at ${video.currentTime.toFixed(2)}`);
		if (errors.length > 20) errors.shift();
		const target = hls.liveSyncPosition;
		if (step === 0 && target !== null) {
			video.currentTime = Math.max(target, video.currentTime + 0.1);
			lastJumpAt = now;
		} else if (step <= 1) {
			hls.recoverMediaError();
		} else {
			const recoveries = watchdogRecoveries;
			loadInternal(url, live);
			watchdogRecoveries = Math.min(recoveries, 4);
		}
	}

	/**
	 * Where a gap that the playing rendition's or the audio rendition's playlist marks at media time `t` ends (the
	 * later of the two: a rendition's gap runs from its own end, and nothing plays until both have media).
	 */
	function playlistGapEnd(hls: Hls, t: number): number | undefined {
		const ends = [hls.levels[hls.currentLevel]?.details, hls.audioTracks[hls.audioTrack]?.details].map((details) =>
			details ? gapEndS([...details.fragments, ...((details.partList ?? []) as PlaylistSpan[])], t) : undefined,
		);
		const found = ends.filter((end): end is number => end !== undefined);
		return found.length ? Math.max(...found) : undefined;
	}

	function updateQualities(levels: Level[]): void {
		const options = levels.map((l, index) => {
			const isAudio = !l.videoCodec && !l.height;
			return { index, audioOnly: isAudio, label: isAudio ? 'Audio only' : `${l.height}p` };
		});
		qualities.value = [{ index: -1, label: 'Auto', audioOnly: false }, ...options.filter((o) => !o.audioOnly)];
		// An audio-only space has nothing else to pick.
		if (options.every((o) => o.audioOnly)) qualities.value = [];
	}

	/** Starts `playlistUrl` from the live edge (live) or the start (replay). */
	function load(playlistUrl: string, options: { live: boolean } = { live: true }): void {
		sourceUrl = playlistUrl;
		audioOnly.value = false;
		resume = undefined;
		loadInternal(playlistUrl, options.live);
	}

	function loadInternal(playlistUrl: string, isLive: boolean): void {
		const options = { live: isLive };
		if (!video) {
			pending = { url: playlistUrl, live: options.live };
			return;
		}
		pending = undefined;
		stop();
		live = options.live;
		url = playlistUrl;
		jumps = 0;
		lastJumpAt = undefined;
		loadedAt = performance.now();
		liveTarget.reset(loadedAt);
		edgeWaits.reset();
		stalledAtTime = undefined;
		lastTime = -1;
		lastFrames = -1;
		progressAt = framesAt = performance.now();
		status.value = 'loading';
		ensureAnalyser();
		if (!Hls.isSupported()) {
			// Safari on iOS: native HLS (low-latency when the browser supports it).
			video.src = playlistUrl;
			startPlaying(video);
			return;
		}
		const hls = new Hls(live ? liveHlsConfig() : replayHlsConfig());
		hlsRef.value = hls;
		// Captions are drawn by the page (with the speaker's name): the text track stays 'hidden' but keeps its cues.
		hls.subtitleDisplay = false;
		hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
			if (!audioOnly.value) updateQualities(data.levels);
			if (startAt !== undefined) video!.currentTime = startAt;
			startAt = undefined;
			// A reload in place starts once its playlist says where that moment is.
			if (!resume) startPlaying(video!);
		});
		hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
			if (data.details.live) followEdge('main', data.level, edgeOf(data.details), data.details.partHoldBack || data.details.holdBack);
			const at = resume;
			if (!at) return;
			resume = undefined;
			video!.currentTime = replayTimeOf(data.details.fragments, data.details.totalduration, at);
			if (at.play) startPlaying(video!);
			else status.value = 'paused';
		});
		hls.on(Hls.Events.AUDIO_TRACK_LOADED, (_e, data) => {
			if (data.details.live) followEdge('audio', data.id, edgeOf(data.details), data.details.partHoldBack || data.details.holdBack);
		});
		hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_e, data) => {
			captionsAvailable.value = data.subtitleTracks.length > 0;
			hls.subtitleTrack = captionsOn.value && captionsAvailable.value ? 0 : -1;
		});
		hls.on(Hls.Events.ERROR, (_e, data) => {
			errors.push(`${data.fatal ? 'FATAL ' : ''}${data.details}`);
			if (errors.length > 20) errors.shift();
			if (!data.fatal) return;
			if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
				hls.recoverMediaError();
				return;
			}
			// The origin went away for longer than the retries cover: start over from the live edge shortly.
			status.value = 'reconnecting';
			recoverTimer = setTimeout(() => loadInternal(url, live), 2000);
		});
		hls.loadSource(playlistUrl);
		hls.attachMedia(video);
	}

	/**
	 * Starts the element after a load. A browser that wants a user gesture first (NotAllowedError) leaves the player
	 * paused, for the listener's click; a start interrupted by another load or a media recovery (AbortError) is tried
	 * again, a few times: said paused for good, a listener whose player the watchdog had just reloaded sat "Paused" at
	 * 0 s, 12 s behind, until they clicked.
	 */
	function startPlaying(media: HTMLVideoElement, attempt = 0): void {
		const load = hlsRef.value;
		// The listener's pause interrupts a start too (AbortError): counted from here, it is never overridden.
		const asked = pausedByListener;
		media.play().catch((error: unknown) => {
			const interrupted = error instanceof DOMException && error.name === 'AbortError';
			if (!interrupted || attempt >= 5 || pausedByListener !== asked) return void (status.value = 'paused');
			// Only while the same load is in place, still paused, and the listener has not paused it meanwhile.
			setTimeout(() => {
				if (hlsRef.value === load && media.paused && pausedByListener === asked && status.value !== 'stopped') startPlaying(media, attempt + 1);
			}, 500);
		});
	}

	/** Stops playback and releases hls.js (the element stays attached for the next load). */
	function stop(): void {
		clearTimeout(recoverTimer);
		hlsRef.value?.destroy();
		hlsRef.value = undefined;
		caption.value = null;
		if (video) {
			video.pause();
			video.removeAttribute('src');
			video.load();
		}
		status.value = 'stopped';
	}

	function play(): void {
		ensureAnalyser();
		void audio?.context.resume();
		if (!hlsRef.value && url && Hls.isSupported()) return loadInternal(url, live);
		if (video && status.value === 'ended') video.currentTime = 0;
		void video?.play().catch(() => {});
	}

	function pause(): void {
		pausedByListener++;
		video?.pause();
	}

	/**
	 * Replay only: loads the replay again where it is, for a playlist that has grown since it was loaded (a replay
	 * asked for before it was whole plays the stream's last live window). The same moment of the space is found by
	 * its program date-time; it plays on if it was playing or had played to its end, and a listener's pause stays.
	 */
	function reloadReplay(): void {
		const hls = hlsRef.value;
		if (live || !url || !video || !hls) return;
		const fromEndS = Number.isFinite(video.duration) ? Math.max(0, video.duration - video.currentTime) : 0;
		const play = status.value === 'playing' || status.value === 'loading' || status.value === 'ended';
		const dateMs = hls.playingDate?.getTime();
		loadInternal(url, false);
		resume = { dateMs, fromEndS, play };
	}

	/** Replay only: goes to `seconds` from the start. */
	function seek(seconds: number): void {
		if (!video || live) return;
		video.currentTime = Math.max(0, seconds);
		if (status.value === 'ended') void video.play().catch(() => {});
	}

	function jumpToLive(): void {
		const hls = hlsRef.value;
		if (!hls || !video || hls.liveSyncPosition === null) return;
		video.currentTime = hls.liveSyncPosition;
		lastJumpAt = performance.now();
		void video.play().catch(() => {});
	}

	function setVolume(value: number): void {
		volume.value = Math.min(1, Math.max(0, value));
		if (video) video.volume = volume.value;
		if (volume.value > 0 && muted.value) setMuted(false);
	}

	function setMuted(value: boolean): void {
		muted.value = value;
		if (video) video.muted = value;
	}

	function setQuality(index: number): void {
		quality.value = index;
		audioOnly.value = false;
		if (hlsRef.value) hlsRef.value.currentLevel = index;
	}

	/**
	 * Switches to the audio rendition (saves data; the picture goes) or back. hls.js drops audio-only variants from a
	 * multivariant playlist that has video ones, so this plays the audio rendition's own playlist instead (from the
	 * live edge; captions come back with the full stream).
	 */
	function setAudioOnly(on: boolean): void {
		if (audioOnly.value === on || !url) return;
		audioOnly.value = on;
		const base = sourceUrl.replace(/[^/]*$/, '');
		const file = live ? 'index.m3u8' : 'vod.m3u8';
		const resumeAt = live ? undefined : video?.currentTime;
		loadInternal(on ? `${base}audio/${file}` : sourceUrl, live);
		if (resumeAt !== undefined) startAt = resumeAt;
	}

	/**
	 * Native HLS (Safari): the subtitles rendition is DEFAULT=NO while captions are off, so the browser leaves its
	 * track disabled and fires no cuechange; captions on keeps it 'hidden' (cues arrive, the page draws them).
	 */
	function showNativeTrack(track: TextTrack, on: boolean): void {
		if (track.kind === 'subtitles' || track.kind === 'captions') track.mode = on ? 'hidden' : 'disabled';
	}

	function setCaptions(on: boolean): void {
		captionsOn.value = on;
		if (hlsRef.value) hlsRef.value.subtitleTrack = on ? 0 : -1;
		else if (video) for (const track of Array.from(video.textTracks)) showNativeTrack(track, on);
		if (!on) caption.value = null;
	}

	function close(): void {
		stop();
		for (const t of timers) clearInterval(t);
		document.removeEventListener('visibilitychange', onVisibility);
		void audio?.context.close();
	}

	onBeforeUnmount(close);

	return {
		status, position, duration, qualities, quality, audioOnly, volume, muted, captionsAvailable, captionsOn, caption, behindLiveS, level, hls: hlsRef,
		element: () => video,
		errors: () => [...errors],
		attach, load, reloadReplay, stop, play, pause, seek, jumpToLive, setVolume, setMuted, setQuality, setAudioOnly, setCaptions, close,
	};
}

export type HlsPlayer = ReturnType<typeof useHlsPlayer>;
