import { onBeforeUnmount, ref, shallowRef } from 'vue';
import type { EventData, EventName, ParticipantInfo, ReactionKind, ReplyData, RequestData, RequestName } from '../../../api/src/signaling/protocol.js';
import { ApiError, restApi } from '../api/restApi.js';
import { localExpiryMs, renewalDelayMs, tokenTimes } from '../session/tokenExpiry.js';
import { forgetSession, loadSession, saveSession } from '../session/tokenStore.js';
import { finalCloseCodes, fullCloseCode, parseRetryAfter, reconnectDelayMs, rejoinCloseCodes, retryAfterDelayMs } from '../signaling/reconnectDelay.js';
import { SignalingError, SignalingSocket } from '../signaling/SignalingSocket.js';
import { describeCloseCode, describeError, describeFull, describeRefusal } from './describeError.js';
import { addReaction, type FloatingReaction } from './reactions.js';
import { appendHands, applyEvent, describeEnded, describeEnding, describeShareEnded, replaceHands, viewFromState, type SpaceEvent, type SpaceView } from './spaceState.js';
import { ToastBatcher, type Toast } from './toastBatcher.js';

/**
 * `joining`: no token yet (the join form); `connecting`/`reconnecting`: the WebSocket is (re)opening;
 * `connected`; `final`: nothing more to do here (ended, removed, opened in another tab) — `finalReason` says why.
 */
export type ConnectionStatus = 'joining' | 'connecting' | 'connected' | 'reconnecting' | 'final';

const forwarded: EventName[] = [
	'roleChanged',
	'muteChanged',
	'pinnedChanged',
	'handQueueChanged',
	'handChanged',
	'activeSpeaker',
	'spaceState',
	'spaceSettings',
	'tick',
	'spaceEnding',
	'spaceEndingCancelled',
	'screenShare',
];

/** A moderator's loaded hands below this many, with more raised, load the next page. */
const refillBelow = 10;
/** After a page of hands could not be read, none is asked for by itself for this long, ms. */
const handsRetryMs = 5000;
/** After a `resync`, the first page is read again no sooner than this after the last read, ms (a storm of resyncs is one read a second). */
const resyncEveryMs = 1000;
/** Display names remembered for toasts, at most (the most recent; a crowd of hands passes through). */
const maxNames = 2000;

/** While a hand is raised, its place in the queue is asked for this often (places move without a message), ms. */
const handPositionEveryMs = 15_000;

const roleWords: Record<string, string> = { host: 'the host', cohost: 'a co-host', speaker: 'a speaker', listener: 'a listener' };

/**
 * One participant's live connection to a space: joins with a display name (or resumes the stored token), keeps
 * the WebSocket open (reconnecting with backoff and the latest token), and keeps the space's view current.
 */
export function useSpaceSession(spaceId: string) {
	const status = ref<ConnectionStatus>(loadSession(spaceId) ? 'connecting' : 'joining');
	const finalReason = ref('');
	const view = shallowRef<SpaceView | undefined>();
	const socket = shallowRef<SignalingSocket | undefined>();
	const toasts = ref<Toast[]>([]);
	const reactions = ref<FloatingReaction[]>([]);
	const error = ref('');
	/** A token the host page needs for REST (broadcast status); always the newest. */
	const token = ref(loadSession(spaceId)?.token ?? '');

	const batcher = new ToastBatcher((t) => (toasts.value = t));
	const names = new Map<string, string>();
	let attempt = 0;
	let retryTimer: ReturnType<typeof setTimeout> | undefined;
	/** Renews the token on the open connection before it expires (the server closes a connection whose token did). */
	let renewTimer: ReturnType<typeof setTimeout> | undefined;
	let closed = false;
	/** The server closed the WebSocket as full while we connected (and scheduled the retry). */
	let turnedAway = false;
	let nextReactionId = 1;

	const wsUrl = () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

	function end(reason: string): void {
		status.value = 'final';
		finalReason.value = reason;
		clearTimeout(renewTimer);
		socket.value?.close();
		socket.value = undefined;
	}

	/** The stored token can no longer be used (revoked, expired, session too old): say why and show the join form. */
	function backToJoin(reason: string): void {
		forgetSession(spaceId);
		clearTimeout(renewTimer);
		socket.value?.close();
		socket.value = undefined;
		view.value = undefined;
		token.value = '';
		error.value = reason;
		status.value = 'joining';
	}

	/**
	 * Keeps `t` (saved for reconnects) and renews it on the connection before it expires; `expiresAtMs` (this
	 * device's clock) when it is a token already in hand being tried again. A token that expires before the one in
	 * hand is not taken (a `tokenRenewed` that overtook the rejoin's reply stays).
	 */
	function useToken(t: string, expiresAtMs?: number): void {
		const times = tokenTimes(t);
		const current = tokenTimes(token.value);
		if (t !== token.value && times && current && times.expiresAtMs < current.expiresAtMs) return;
		const stored = loadSession(spaceId);
		if (stored) saveSession(spaceId, { ...stored, token: t });
		token.value = t;
		clearTimeout(renewTimer);
		if (!times) return;
		// From the token's own lifetime, counted from now: `exp` against Date.now() would renew too late (or never)
		// on a device whose clock is behind the server's.
		const localExpiry = expiresAtMs ?? localExpiryMs(times, Date.now());
		renewTimer = setTimeout(() => {
			const s = socket.value;
			if (!s || closed) return;
			// Refused once the session is too old: the server then closes the connection (4012) when the token expires.
			// Any other failure (a timeout) tries again in four fifths of the time then left.
			s.request('renewToken', {}).then(
				({ token: fresh }) => useToken(fresh),
				(e: unknown) => {
					if (!(e instanceof SignalingError && e.code === 'unauthorized') && socket.value === s && token.value === t) useToken(t, localExpiry);
				},
			);
		}, renewalDelayMs(localExpiry, Date.now()));
	}

	/** Joins with a display name from the share link's form. */
	async function join(displayName: string): Promise<void> {
		error.value = '';
		try {
			const joined = await restApi.join(spaceId, displayName);
			saveSession(spaceId, { token: joined.token, displayName });
			token.value = joined.token;
			status.value = 'connecting';
			await connect();
		} catch (e) {
			const retryAfterS = fullRetryAfter(e);
			if (retryAfterS === undefined) {
				error.value = e instanceof ApiError ? describeRefusal(e.code, e.retryAfterS, 'Could not join the space.') : describeError('internal', 'Could not join the space.');
				return;
			}
			// This server is full: say so, and try again when it said to.
			const delayMs = retryAfterDelayMs(retryAfterS, attempt++);
			error.value = describeFull(delayMs / 1000);
			clearTimeout(retryTimer);
			retryTimer = setTimeout(() => {
				if (!closed && status.value === 'joining') void join(displayName);
			}, delayMs);
		}
	}

	/** Stores a host's session after creating a space (the create page). */
	function adopt(hostToken: string, displayName: string): void {
		saveSession(spaceId, { token: hostToken, displayName });
		token.value = hostToken;
	}

	async function connect(): Promise<void> {
		const stored = loadSession(spaceId);
		if (!stored || closed) return;
		turnedAway = false;
		try {
			// Rejoining first renews an expired token and tells a banned or ended visitor why, in words.
			const rejoined = await restApi.join(spaceId, stored.displayName, stored.token);
			saveSession(spaceId, { ...stored, token: rejoined.token });
			token.value = rejoined.token;
			const s = await SignalingSocket.connect(wsUrl(), rejoined.token);
			if (closed) return s.close();
			// Taken before the events are wired: a `tokenRenewed` arriving during getState is newer and must win.
			useToken(rejoined.token);
			wire(s);
			const state = await s.request('getState', {});
			for (const p of [...state.stage, ...state.handQueue]) rememberName(p.id, p.displayName);
			rememberName(state.you.id, state.you.displayName);
			view.value = viewFromState(state, Date.now());
			socket.value = s;
			status.value = 'connected';
			attempt = 0;
			if (state.space.state === 'ended') end(describeError('space_ended'));
		} catch (e) {
			// The WebSocket was closed as full: its close handler scheduled the retry already.
			if (turnedAway) return;
			const retryAfterS = fullRetryAfter(e);
			if (retryAfterS !== undefined) return scheduleReconnect(retryAfterS);
			const code = e instanceof ApiError || e instanceof SignalingError ? e.code : 'internal';
			if (code === 'space_ended' || code === 'banned' || code === 'not_found') {
				if (code !== 'space_ended') forgetSession(spaceId);
				return end(describeError(code));
			}
			if (code === 'unauthorized') {
				forgetSession(spaceId);
				status.value = 'joining';
				error.value = describeError(code);
				return;
			}
			scheduleReconnect();
		}
	}

	/** `retryAfterS`: a full server said to wait this long; the wait is told as a toast. */
	function scheduleReconnect(retryAfterS?: number): void {
		if (closed) return;
		status.value = 'reconnecting';
		clearTimeout(retryTimer);
		const delayMs = retryAfterS === undefined ? reconnectDelayMs(attempt++) : retryAfterDelayMs(retryAfterS, attempt++);
		if (retryAfterS !== undefined) batcher.announce(describeFull(delayMs / 1000));
		retryTimer = setTimeout(() => void connect(), delayMs);
	}

	function wire(s: SignalingSocket): void {
		for (const name of forwarded) s.on(name, (data) => onEvent({ event: name, data } as SpaceEvent));
		s.on('tokenRenewed', ({ token: t }) => useToken(t));
		// One message per tick: who came and went (the first few by name, then counts) and the reactions by kind.
		s.on('tick', ({ joined = [], joinedCount = 0, left = [], leftCount = 0, reactions = [] }) => {
			for (const p of joined) rememberName(p.id, p.displayName);
			const me = view.value?.you.id;
			const others = joined.filter((p) => p.id !== me);
			batcher.joined(others.map((p) => p.displayName), joinedCount - (joined.length - others.length));
			const leftNames = left.flatMap((id) => names.get(id) ?? []);
			batcher.left(leftNames, leftCount);
			for (const r of reactions) float(r.reaction, r.count);
		});
		s.on('removed', ({ banned }) => {
			forgetSession(spaceId);
			end(banned ? describeError('banned') : 'A host removed you from this space.');
		});
		s.onClose((code, reason) => {
			if (status.value === 'final' || closed) return;
			if (code === finalCloseCodes.spaceEnded) return end(describeError('space_ended'));
			if (code === finalCloseCodes.removed) return end('A host removed you from this space.');
			if (code === finalCloseCodes.replaced) return end('This space is open in another tab or window.');
			if (code === rejoinCloseCodes.revoked) return backToJoin(describeError('revoked'));
			if (code === rejoinCloseCodes.sessionExpired) return backToJoin(describeError('session_expired'));
			if (code === rejoinCloseCodes.tokenExpired) return backToJoin(describeError('token_expired'));
			socket.value = undefined;
			// Too many connections from this address (4429, across nodes): said in words; the backoff tries again.
			const limited = code === fullCloseCode ? undefined : describeCloseCode(code, parseRetryAfter(reason));
			if (limited) batcher.announce(limited);
			turnedAway = code === fullCloseCode;
			scheduleReconnect(turnedAway ? (parseRetryAfter(reason) ?? 10) : undefined);
		});
	}

	function onEvent(e: SpaceEvent): void {
		const before = view.value;
		if (!before) return;
		view.value = applyEvent(before, e, Date.now());
		if (e.event === 'handQueueChanged') {
			for (const { raised } of e.data.changes) if (raised) rememberName(raised.id, raised.displayName);
			if (e.data.resync) resyncHands();
			// A host working down the queue from the top runs out of loaded hands: the next page comes by itself.
			const hands = view.value;
			if (!e.data.resync && hands.handQueue.length < refillBelow && hands.handQueue.length < hands.handCount && Date.now() >= handsHeldUntil) void loadMoreHands();
		}
		if (e.event === 'spaceEnding') batcher.announce(describeEnding(e.data.reason, e.data.inS));
		if (e.event === 'spaceEndingCancelled' && before.ending) batcher.announce('A host is back: the space carries on.');
		if (e.event === 'roleChanged') {
			const p: ParticipantInfo = e.data.participant;
			rememberName(p.id, p.displayName);
			const who = p.id === before.you.id ? 'You are' : `${p.displayName} is`;
			batcher.announce(`${who} now ${roleWords[p.role]}`);
		}
		if (e.event === 'spaceState' && e.data.space.state === 'ended') {
			// The page turns to the replay; the stage, warned before, is told why it ended.
			if (before.ending) batcher.announce(describeEnded(before.ending));
			end(describeEnded(before.ending));
		}
		if (e.event === 'spaceState' && e.data.space.state === 'live' && before.space.state !== 'live') batcher.announce('The space is live');
		if (e.event === 'screenShare') announceShare(before, e.data);
	}

	/** Toasts for the screen share: who started sharing, why a share ended, the host's switch. */
	function announceShare(before: SpaceView, { share, ended, speakersMayShare }: EventData['screenShare']): void {
		const me = before.you.id;
		const name = (id: string) => (id === me ? 'you' : nameOf(id));
		const started = share && share.participantId !== before.screenShare?.participantId ? share : undefined;
		if (ended?.reason === 'replaced' && started) {
			const who = started.participantId === me ? 'You' : nameOf(started.participantId);
			batcher.announce(`${who} took over the screen share from ${ended.participantId === me ? 'you' : name(ended.participantId)}.`);
		} else {
			const text = ended && describeShareEnded(ended.reason, nameOf(ended.participantId), ended.participantId === me);
			if (text) batcher.announce(text);
			if (started) batcher.announce(started.participantId === me ? 'You are sharing your screen.' : `${nameOf(started.participantId)} is sharing their screen.`);
		}
		if (speakersMayShare !== before.speakersMayShare) batcher.announce(speakersMayShare ? 'Speakers may now share their screens.' : 'Only hosts and co-hosts may share their screens now.');
	}

	function float(kind: ReactionKind, count = 1): void {
		const id = nextReactionId++;
		reactions.value = addReaction(reactions.value, kind, id, 10 + Math.random() * 80, undefined, count);
		setTimeout(() => (reactions.value = reactions.value.filter((r) => r.id !== id)), 3000);
	}

	/** Sends a request; a refusal is shown in words and answered with undefined. */
	async function request<N extends RequestName>(name: N, data: RequestData<N>): Promise<ReplyData[N] | undefined> {
		const s = socket.value;
		if (!s) {
			batcher.announce(describeError('closed'));
			return undefined;
		}
		try {
			return await s.request(name, data);
		} catch (e) {
			batcher.announce(describeError(e instanceof SignalingError ? e.code : 'internal', `Could not ${name}.`));
			return undefined;
		}
	}

	function nameOf(participantId: string): string {
		return names.get(participantId) ?? 'Someone';
	}

	/** Remembers a name as the most recent; the oldest go past `maxNames`. */
	function rememberName(id: string, displayName: string): void {
		names.delete(id);
		names.set(id, displayName);
		if (names.size > maxNames) names.delete(names.keys().next().value!);
	}

	/** A page of hands is on its way (one at a time). */
	let loadingHands = false;
	/** No page of hands is asked for by itself before this (after a failed read), epoch ms. */
	let handsHeldUntil = 0;
	let resyncTimer: ReturnType<typeof setTimeout> | undefined;
	let lastResyncAt = 0;

	/** Reads the first page of hands again and shows it instead of those loaded: at most once per `resyncEveryMs`. */
	function resyncHands(): void {
		if (resyncTimer) return;
		resyncTimer = setTimeout(() => {
			resyncTimer = undefined;
			lastResyncAt = Date.now();
			const s = socket.value;
			s?.request('listHands', {}).then(
				(page) => {
					if (!view.value || socket.value !== s) return;
					view.value = replaceHands(view.value, page);
					for (const p of page.hands) rememberName(p.id, p.displayName);
				},
				// The count is current; the hands shown stay a little old until the next change or "Show more".
				() => {},
			);
		}, Math.max(0, lastResyncAt + resyncEveryMs - Date.now()));
	}

	/**
	 * Loads the next page of raised hands after those shown (a host or co-host); from the start again if the last
	 * one shown was lowered meanwhile (the pages are merged, each hand once).
	 */
	async function loadMoreHands(): Promise<void> {
		const s = socket.value;
		const last = view.value?.handQueue.at(-1);
		if (!s || loadingHands) return;
		loadingHands = true;
		try {
			const page = await s.request('listHands', last ? { after: last.id } : {}).catch((e: unknown) => {
				if (e instanceof SignalingError && e.code === 'not_found') return s.request('listHands', {});
				throw e;
			});
			if (view.value) view.value = appendHands(view.value, page);
			for (const p of page.hands) names.set(p.id, p.displayName);
		} catch (e) {
			handsHeldUntil = Date.now() + handsRetryMs;
			batcher.announce(describeError(e instanceof SignalingError ? e.code : 'internal', 'Could not load more raised hands.'));
		} finally {
			loadingHands = false;
		}
	}

	/** Asks where our raised hand is in the queue now, every `handPositionEveryMs` while it is raised. */
	const positionTimer = setInterval(() => {
		const s = socket.value;
		if (!s || !view.value?.handRaised) return;
		s.request('handPosition', {}).then(
			({ raised, position }) => {
				if (view.value && socket.value === s) view.value = applyEvent(view.value, { event: 'handChanged', data: raised && position !== null ? { raised, position } : { raised } });
			},
			// A missed answer only leaves the place shown a little old; the next asks again.
			() => {},
		);
	}, handPositionEveryMs);

	/** Gets a new token and makes every older one of ours stop working (a token that may have leaked). */
	async function rotateToken(): Promise<boolean> {
		const reply = await request('rotateToken', {});
		if (!reply) return false;
		useToken(reply.token);
		return true;
	}

	function close(): void {
		closed = true;
		clearInterval(positionTimer);
		clearTimeout(resyncTimer);
		clearTimeout(retryTimer);
		clearTimeout(renewTimer);
		batcher.close();
		socket.value?.close();
	}

	onBeforeUnmount(close);
	if (status.value === 'connecting') void connect();

	return {
		status,
		finalReason,
		view,
		socket,
		toasts,
		reactions,
		error,
		token,
		join,
		adopt,
		connect,
		request,
		rotateToken,
		loadMoreHands,
		nameOf,
		dismissToast: (id: number) => batcher.dismiss(id),
		announce: (t: string) => batcher.announce(t),
		close,
	};
}

export type SpaceSession = ReturnType<typeof useSpaceSession>;

/** Seconds a full server asked us to wait (HTTP 503 with Retry-After), or undefined for any other failure. */
function fullRetryAfter(e: unknown): number | undefined {
	return e instanceof ApiError && e.status === 503 && e.retryAfterS !== undefined ? e.retryAfterS : undefined;
}
