import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { StageRegistry } from '@tribune/ingest';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { TokenRefusedError } from '../auth/TokenIssuer.js';
import { errorCatalogue, TribuneError } from '../errors.js';
import type { ParticipantId, Role, SpaceId } from '../spaces/Space.js';
import type { SpaceService, SpaceServiceEvents } from '../spaces/SpaceService.js';
import { publishGrantsFor } from '../stage/publishGrantsFor.js';
import { addressKey, clientAddress, normalizeAddress, parseTrustedProxies, type TrustedProxies } from '../http/trustedProxies.js';
import { Presence } from '../lifecycle/Presence.js';
import { defaultLifecycleLimits, lifecycleTimings, SpaceLifecycle, type LifecycleLimits } from '../lifecycle/SpaceLifecycle.js';
import { Admission, type AdmissionLimits } from './Admission.js';
import { AddressTally } from './AddressTally.js';
import { ClientConnection, defaultSignalingLimits, type SignalingLimits } from './ClientConnection.js';
import { ClusterRelay, relayedEventSchemas, type RelayBody } from './ClusterRelay.js';
import { ListenerTally } from './ListenerTally.js';
import { ScreenShares } from './ScreenShares.js';
import { classifyError, requestHandlers } from './requestHandlers.js';
import type { EventData, EventName, IceServerInfo, ReactionKind, RequestName } from './protocol.js';
import { SpaceRoom, type RoomLink } from './SpaceRoom.js';
import { participantInfo, spaceInfo } from './toWire.js';
import { refuseUpgrade, upgradeTarget } from '../upgrades/upgradeRouting.js';
import { selectSubprotocol, upgradeToken } from '../upgrades/upgradeToken.js';

export interface SignalingOptions {
	service: SpaceService;
	stages: StageRegistry;
	logger: Logger;
	/** Per-connection rate limits. Default: `defaultSignalingLimits`. */
	limits?: Partial<SignalingLimits>;
	/** Joins, leaves and reactions are sent as one `tick` message per this many ms. Default 100. */
	presenceBatchMs?: number;
	/** Ping interval; a client that misses one pong is dropped, in ms. Default 30 000. */
	heartbeatMs?: number;
	/**
	 * How often the token generations of connections on stage (moderators included) are read again from the store,
	 * to close those revoked by an event this node missed, in ms. Default 30 000.
	 */
	revocationSweepMs?: number;
	/** This node's capacity for audience WebSockets and joins. Default: `defaultAdmissionLimits`. */
	admission?: Partial<AdmissionLimits>;
	/**
	 * Several API nodes on one Redis: events, ticks and listener counts are shared through it (`ClusterRelay`,
	 * `ListenerTally`), and so are presence, the space lifecycle and the per-space and per-address caps. Unset: this
	 * node is alone (and none of those run).
	 */
	cluster?: ClusterOptions;
	/** When live spaces end on their own and idle participants go. Default: `defaultLifecycleLimits`. */
	lifecycle?: Partial<LifecycleLimits>;
	/** Peers whose `X-Forwarded-For` names the client, for the per-address cap. Default: loopback. */
	trustedProxies?: TrustedProxies;
	/** What an address is counted under in Redis (never the address itself). Default: its `addressKey`. */
	addressTag?: (address: string) => string;
	/** TURN servers for a participant's transports (TURN_URLS/TURN_SECRET); unset: none. */
	iceServers?: (participantId: string) => IceServerInfo[];
}

export interface ClusterOptions {
	/** For publishing and the listener tally (shared with the rest of the node). */
	redis: Redis;
	/** A connection of the relay's own for SUBSCRIBE; closed with the server. */
	subscriber: Redis;
	prefix: string;
	/** Unique per process. */
	nodeId: string;
	/** How long a node's listener count stands without a refresh, in ms. Default 15 000 (refreshed every third). */
	listenerTtlMs?: number;
}

/** SpaceService events that every node serving the space applies to its own connections. */
const relayedEvents = [
	'spaceState',
	'settingsChanged',
	'roleChanged',
	'handQueueChanged',
	'muteChanged',
	'pinnedChanged',
	'participantRemoved',
	'tokensRevoked',
	'spaceEnding',
	'spaceEndingCancelled',
] as const;
type RelayedEvent = (typeof relayedEvents)[number];
/** A check for every relayed event (the type says if one lacks it). */
const relayedEventChecks: { [K in RelayedEvent]: (typeof relayedEventSchemas)[K] } = relayedEventSchemas;
type EventOf<K extends RelayedEvent> = SpaceServiceEvents[K][0];
/** `remote`: the event happened on another node (relayed); side effects that belong to its origin stay there. */
type EventHandlers = { [K in RelayedEvent]: (e: EventOf<K>, remote: boolean) => void };

/** Told when a space gets its first connection on this process, and when its last one goes. */
export interface RoomWatcher {
	opened(spaceId: SpaceId): void;
	closed(spaceId: SpaceId): void;
}

/**
 * WebSocket close codes of Tribune (4000-4999 is the application range). `tokenExpired`: the connection's token
 * expired without a renewal; `sessionExpired`: the session reached its maximum age (no renewal possible: join
 * again); `revoked`: the participant's tokens were revoked by a host, or rotated by the participant elsewhere.
 */
export const closeCodes = {
	replaced: 4009,
	removed: 4003,
	spaceEnded: 4010,
	tokenExpired: 4011,
	sessionExpired: 4012,
	revoked: 4013,
	shuttingDown: 1001,
	/** This node, or the space over every node, has no room for another listener: "retry-after=N". */
	full: 4503,
	/** The client's address holds as many signaling connections as one address may, over every node: "retry-after=N". */
	tooManyConnections: 4429,
} as const;

/** How long a node remembers a revocation for connections being opened as it arrives, ms (an upgrade takes less). */
const recentRevocationMs = 60_000;
/** At most this many remembered revocations per node (the oldest go first). */
const maxRecentRevocations = 10_000;
/** Token generations read in one MGET by a revocation sweep (a 10,000-listener space costs ten short commands). */
const sweepBatch = 1000;

/** Largest frame `ws` accepts before closing the socket; messages over the protocol limit below it get a reply. */
const hardMaxPayloadBytes = 1024 * 1024;

/**
 * WebSocket signaling on `/ws` (the token in the `Sec-WebSocket-Protocol` offer, `upgradeToken`): authenticates at
 * the upgrade, closes a connection whose token expires unrenewed or is revoked, keeps a room per space, runs requests
 * through `requestHandlers`, and turns the space's and the stage's events into protocol events for the right
 * people. Media follows roles here: a demoted speaker's peer closes, a muted one's audio pauses.
 *
 * Several API processes may serve one space: what happens on one node reaches the connections of the others through
 * Redis (`ClusterRelay`), once each, and listener counts add up over the nodes (`ListenerTally`).
 */
export class SignalingServer {
	readonly #service: SpaceService;
	readonly #stages: StageRegistry;
	readonly #logger: Logger;
	readonly #limits: SignalingLimits;
	readonly #batchMs: number;
	readonly #wss: WebSocketServer;
	readonly #rooms = new Map<SpaceId, SpaceRoom>();
	readonly #heartbeat: NodeJS.Timeout;
	readonly #revocationSweep: NodeJS.Timeout;
	readonly #unsubscribe: (() => void)[] = [];
	readonly #roomWatchers = new Set<RoomWatcher>();
	readonly #relay: ClusterRelay | undefined;
	readonly #tally: ListenerTally | undefined;
	/** Per space: the listener-count report to Redis, at most one in flight and one per tick. */
	readonly #counts = new Map<SpaceId, { timer: NodeJS.Timeout | undefined; running: boolean; again: boolean; reported: number | undefined }>();
	readonly #countRefresh: NodeJS.Timeout | undefined;
	readonly #presence: Presence | undefined;
	readonly #lifecycle: SpaceLifecycle | undefined;
	readonly #addresses: AddressTally | undefined;
	readonly #proxies: TrustedProxies;
	readonly #addressTag: (address: string) => string;
	readonly #iceServers: ((participantId: string) => IceServerInfo[]) | undefined;
	/** The screen share of each space and who may share (one share per space; the stage holds it). */
	readonly #shares = new ScreenShares({
		broadcast: (spaceId, data) => this.#rooms.get(spaceId)?.broadcast('screenShare', data),
		relay: (spaceId, data) => this.#relay?.publish(spaceId, { t: 'screenShare', ...data }),
		stageRoles: (spaceId) => new Map([...(this.#rooms.get(spaceId)?.connections ?? [])].filter((c) => c.peer).map((c) => [c.actor.participantId, c.participant.role])),
		video: async (spaceId) => (await this.#service.getSpace(spaceId)).settings.video,
	});
	readonly #link: RoomLink = {
		published: (spaceId, news) => this.#relay?.publish(spaceId, { t: 'tick', news }),
		localListenersChanged: (spaceId, count) => {
			// Alone, this node's listeners are the total; with others, the tally in Redis adds them up.
			if (this.#tally) this.#scheduleCount(spaceId);
			else this.#rooms.get(spaceId)?.setListenerTotal(count);
		},
	};
	#handlers: EventHandlers | undefined;
	/** `<spaceId> <participantId>` → the token generation a revocation moved to, and when (oldest first). */
	readonly #recentRevocations = new Map<string, { generation: number; atMs: number }>();
	/** Capacity of this node; SpaceService asks it about joins too. */
	readonly admission: Admission;
	#closed = false;

	constructor(options: SignalingOptions) {
		this.#service = options.service;
		this.#stages = options.stages;
		this.#logger = options.logger;
		this.#limits = { ...defaultSignalingLimits, ...options.limits };
		this.#batchMs = options.presenceBatchMs ?? 100;
		this.admission = new Admission(options.admission ?? {}, () => this.audienceCount());
		// skipUTF8Validation: a text frame with invalid UTF-8 gets a `bad_request` reply (it cannot parse as JSON) instead
		// of ws closing the connection with 1007.
		// handleProtocols: the client offers `tribune.v1` and its token as subprotocols; only `tribune.v1` is selected,
		// so the token never comes back in a response header.
		this.#wss = new WebSocketServer({
			noServer: true,
			maxPayload: hardMaxPayloadBytes,
			perMessageDeflate: false,
			skipUTF8Validation: true,
			handleProtocols: (protocols) => selectSubprotocol(protocols),
		});
		this.#heartbeat = setInterval(() => this.#checkHeartbeats(), options.heartbeatMs ?? 30_000).unref();
		// The backstop for a revocation event this node never got (pub/sub is fire-and-forget). The likely loss is
		// around a subscriber reconnect, after which the relay's onSubscribed has every connection checked. This
		// periodic sweep covers the rest only for the stage and moderators, who can speak, publish and moderate:
		// a few reads per space. A listener's socket receives what the space shows everyone, and its renewals are
		// checked against the store, so a revocation it missed keeps it at most one token lifetime; reading every
		// listener's generation every 30 s would cost 10,000 keys per space for little.
		this.#revocationSweep = setInterval(() => void this.#sweepRevocations([...this.#rooms.keys()], 'stage'), options.revocationSweepMs ?? 30_000).unref();
		const cluster = options.cluster;
		if (cluster) {
			const ttlMs = cluster.listenerTtlMs ?? 15_000;
			this.#relay = new ClusterRelay({
				...cluster,
				logger: this.#logger.child({ module: 'relay' }),
				onMessage: (spaceId, body) => this.#onRelay(spaceId, body),
				// Events published before the subscription was live were missed: every connection there is checked.
				onSubscribed: (spaceIds) => void this.#sweepRevocations(spaceIds, 'all'),
			});
			this.#tally = new ListenerTally(cluster.redis, cluster.prefix, cluster.nodeId, ttlMs);
			this.#addresses = new AddressTally(cluster.redis, cluster.prefix, cluster.nodeId, ttlMs);
			// Keeps this node's counts from expiring, and drops a dead node's from the totals here.
			this.#countRefresh = setInterval(() => {
				for (const spaceId of this.#rooms.keys()) this.#scheduleCount(spaceId);
				this.#addresses?.refresh().catch((error: unknown) => this.#logger.warn({ err: error }, 'could not refresh the address counts'));
			}, ttlMs / 3).unref();
			const limits = { ...defaultLifecycleLimits, ...options.lifecycle };
			const timings = lifecycleTimings(limits);
			this.#presence = new Presence({
				service: this.#service,
				logger: this.#logger.child({ module: 'presence' }),
				connected: () => [...this.#rooms].map(([spaceId, room]) => [spaceId, [...room.connections].map((c) => c.actor.participantId)] as [SpaceId, ParticipantId[]]),
				refreshMs: timings.presenceRefreshMs,
				keepS: timings.presenceKeepS,
			});
			this.#lifecycle = new SpaceLifecycle({ service: this.#service, redis: cluster.redis, prefix: cluster.prefix, nodeId: cluster.nodeId, tally: this.#tally, logger: this.#logger.child({ module: 'lifecycle' }), limits });
		}
		this.#proxies = options.trustedProxies ?? parseTrustedProxies('loopback');
		this.#addressTag = options.addressTag ?? addressKey;
		this.#iceServers = options.iceServers;
		this.#subscribe();
	}

	/** Routes `/ws` upgrades of an HTTP server here; other upgrade paths are left alone (see refuseUnroutedUpgrades). */
	attach(server: http.Server): void {
		server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
			const url = upgradeTarget(req.url);
			if (url?.pathname !== '/ws') return;
			void this.#upgrade(req, socket, head, url);
		});
	}

	/**
	 * Admission of a REST join (SpaceService asks): this node's capacity, and the space's audience over every node
	 * when this node serves it (else its WebSocket is checked at the upgrade). Throws to refuse.
	 */
	admitJoin(role: Role, spaceId: SpaceId): void {
		this.admission.admitJoin(role, this.#knownSpaceListeners(spaceId));
	}

	/** Listener connections on this process, over all spaces. */
	audienceCount(): number {
		let n = 0;
		for (const room of this.#rooms.values()) n += room.localListenerCount;
		return n;
	}

	/** Connections in a space on this process (for tests and metrics). */
	connectionCount(spaceId: SpaceId): number {
		return this.#rooms.get(spaceId)?.size ?? 0;
	}

	/** Follows which spaces have connections here (told at once of those that have); returns the unwatch. */
	watchRooms(watcher: RoomWatcher): () => void {
		this.#roomWatchers.add(watcher);
		for (const spaceId of this.#rooms.keys()) watcher.opened(spaceId);
		return () => this.#roomWatchers.delete(watcher);
	}

	/** Sends an event to every connection of a space on this process. */
	toSpace<N extends EventName>(spaceId: SpaceId, event: N, data: EventData[N]): void {
		this.#rooms.get(spaceId)?.broadcast(event, data);
	}

	/** Sends an event to the connections on stage (moderators included) of a space on this process. */
	toStage<N extends EventName>(spaceId: SpaceId, event: N, data: EventData[N]): void {
		this.#rooms.get(spaceId)?.toStage(event, data);
	}

	/** The space lifecycle's sweeper (tests run a sweep without waiting for its timer); unset when alone. */
	get lifecycle(): SpaceLifecycle | undefined {
		return this.#lifecycle;
	}

	/** Closes every connection and stops listening to events. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.#lifecycle?.close();
		this.#presence?.close();
		clearInterval(this.#heartbeat);
		clearInterval(this.#revocationSweep);
		clearInterval(this.#countRefresh);
		for (const off of this.#unsubscribe) off();
		for (const [spaceId, room] of this.#rooms) {
			room.close();
			for (const c of room.connections) c.close(closeCodes.shuttingDown, 'server shutting down');
			// This node's listeners leave the totals now rather than when their count expires.
			this.#tally?.report(spaceId, 0).catch(() => {});
		}
		for (const state of this.#counts.values()) clearTimeout(state.timer);
		this.#rooms.clear();
		this.#relay?.close();
		this.#wss.close();
	}

	async #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
		socket.on('error', () => socket.destroy());
		let auth: Awaited<ReturnType<SpaceService['authenticate']>>;
		try {
			if (this.#closed) throw new TribuneError('unavailable', 'shutting down');
			auth = await this.#service.authenticate(upgradeToken(req, url));
		} catch (error) {
			const { code, unexpected } = classifyError(error);
			if (unexpected) this.#logger.error({ err: error }, 'upgrade failed');
			// Redis away or shutting down: a 503 the client retries, with when.
			refuseUpgrade(socket, errorCatalogue[code], code, code === 'unavailable' ? { retryAfterS: 1 } : {});
			return;
		}
		const admitted = await this.#admitAcrossNodes(req, auth);
		// Gone while Redis was asked: the place it took is given back (no socket will close to do it).
		if (socket.destroyed || this.#closed) {
			if (admitted.addressTag !== undefined) this.#addresses?.release(admitted.addressTag);
			socket.destroy();
			return;
		}
		this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, auth, admitted));
	}

	/**
	 * The caps kept over every node: listeners in the space (`maxSpaceAudience`, from the tally) and connections of
	 * the client's address (`maxAddressConnections`). Those on stage are always let in (their connections count to
	 * their address all the same). A refusal is a close code and reason, sent once the socket is open (a browser
	 * cannot read a refused upgrade). Redis away: let in (the upgrade's own read just worked; the node cap still holds).
	 */
	async #admitAcrossNodes(req: http.IncomingMessage, auth: Awaited<ReturnType<SpaceService['authenticate']>>): Promise<Admitted> {
		const { actor, participant } = auth;
		const retry = `retry-after=${this.admission.limits.retryAfterS}`;
		const listener = participant.role === 'listener';
		// A participant already connected here is replacing their own connection and takes no new place.
		const replacing = this.#rooms.get(actor.spaceId)?.get(actor.participantId) !== undefined;
		// Both asked at once: a slow Redis costs an upgrade one wait, not two.
		const [space, address] = await Promise.allSettled([
			listener && !replacing ? this.#spaceListeners(actor.spaceId).then((n) => this.admission.admitSpaceConnection(participant.role, n)) : true,
			this.#admitAddress(req, listener && !replacing),
		]);
		for (const r of [space, address]) {
			if (r.status === 'rejected') this.#logger.warn({ err: r.reason, spaceId: actor.spaceId }, 'admission across nodes: Redis did not answer; letting the connection in');
		}
		const admitted: Admitted = address.status === 'fulfilled' ? address.value : {};
		if (space.status === 'fulfilled' && !space.value) {
			if (admitted.addressTag !== undefined) this.#addresses?.release(admitted.addressTag);
			return { refused: { code: closeCodes.full, reason: retry } };
		}
		return admitted;
	}

	/** The client address's place over every node (`maxAddressConnections` for a new listener, unlimited else). */
	async #admitAddress(req: http.IncomingMessage, capped: boolean): Promise<Admitted> {
		const peer = normalizeAddress(req.socket.remoteAddress ?? '');
		const address = clientAddress(peer, headerValue(req.headers['x-forwarded-for']), this.#proxies);
		// A trusted proxy that forwards nothing carries everyone's connections: not one client's.
		if (!this.#addresses || this.#proxies.trusts(address)) return {};
		const tag = this.#addressTag(address);
		const taken = await this.#addresses.acquire(tag, capped ? this.admission.limits.maxAddressConnections : Number.MAX_SAFE_INTEGER, upgradeRedisWaitMs);
		if (taken === false) return { refused: { code: closeCodes.tooManyConnections, reason: `retry-after=${this.admission.limits.retryAfterS}` } };
		// Taken, or not answered in time: either way the connection holds its place (the next refresh writes it).
		return { addressTag: tag };
	}

	/**
	 * Listeners in a space over every node, as this node can best tell: the last total plus this node's change since
	 * it reported; read from Redis while this node has not reported one yet.
	 */
	async #spaceListeners(spaceId: SpaceId): Promise<number> {
		const known = this.#knownSpaceListeners(spaceId);
		if (known !== undefined) return known;
		if (!this.#tally) return 0;
		// Not answered in time (a frozen Redis): counted as empty; the node's own cap still holds.
		const total = await within(this.#tally.read(spaceId).then((t) => t.listeners), upgradeRedisWaitMs, 0);
		return total + (this.#rooms.get(spaceId)?.localListenerCount ?? 0);
	}

	/** The last total plus this node's change since it reported it; undefined while this node has none to go by. */
	#knownSpaceListeners(spaceId: SpaceId): number | undefined {
		const room = this.#rooms.get(spaceId);
		const reported = this.#counts.get(spaceId)?.reported;
		if (!room || (reported === undefined && this.#tally)) return undefined;
		return room.listenerCount - (reported ?? 0) + room.localListenerCount;
	}

	/** This node's cap and the space's share of it, and the space's cap over every node as this node knows it. */
	#admitHere(spaceId: SpaceId, role: Role): boolean {
		let spaces = 0;
		for (const room of this.#rooms.values()) if (room.localListenerCount > 0) spaces++;
		const spaceListeners = this.#rooms.get(spaceId)?.localListenerCount ?? 0;
		if (!this.admission.admitConnection(role, { spaceListeners, spaces })) return false;
		// Before this node's first report, its own listeners at least (a burst of upgrades all read the same total).
		return this.admission.admitSpaceConnection(role, this.#knownSpaceListeners(spaceId) ?? spaceListeners);
	}

	#onConnection(ws: WebSocket, auth: Awaited<ReturnType<SpaceService['authenticate']>>, admitted: Admitted): void {
		const { actor, participant, claims } = auth;
		if (admitted.addressTag !== undefined) {
			const tag = admitted.addressTag;
			ws.once('close', () => this.#addresses?.release(tag));
		}
		if (admitted.refused) {
			ws.close(admitted.refused.code, admitted.refused.reason);
			return;
		}
		// Revoked while this upgrade was being checked: the event came before there was a connection to close.
		if ((this.#recentRevocations.get(`${actor.spaceId} ${actor.participantId}`)?.generation ?? 0) > claims.generation) {
			ws.close(closeCodes.revoked, 'token revoked');
			return;
		}
		// Full: told when to come back (a browser cannot read the status of a refused upgrade, but it reads this).
		// A participant already connected here is replacing their own connection and takes no new place. Checked again
		// here, with no await before the connection is added: upgrades that passed the caps together fill only what was left.
		if (!this.#rooms.get(actor.spaceId)?.get(actor.participantId) && !this.#admitHere(actor.spaceId, participant.role)) {
			ws.close(closeCodes.full, `retry-after=${this.admission.limits.retryAfterS}`);
			return;
		}
		const logger = this.#logger.child({ spaceId: actor.spaceId, participantId: actor.participantId });
		let room = this.#rooms.get(actor.spaceId);
		if (!room) {
			room = new SpaceRoom(actor.spaceId, this.#batchMs, this.#link, { participant: this.#limits.handRaises, space: this.#limits.spaceHandRaises });
			this.#rooms.set(actor.spaceId, room);
			this.#relay?.watch(actor.spaceId);
			for (const w of this.#roomWatchers) w.opened(actor.spaceId);
			if (auth.space.state === 'live') this.#lifecycle?.track(actor.spaceId, auth.space.startedAt ?? Date.now());
		}
		const theRoom = room;
		const connection: ClientConnection = new ClientConnection({
			socket: ws,
			actor,
			participant,
			claims,
			onTokenExpired: (c) => {
				// A token is capped at its session's end: expiring there means no renewal can help.
				const sessionEnd = c.claims.sessionStartedAt + this.#service.tokens.lifetimes.maxSessionS;
				const ended = c.claims.expiresAt >= sessionEnd;
				this.#closeWithMedia(c, ended ? closeCodes.sessionExpired : closeCodes.tokenExpired, ended ? 'session expired' : 'token expired');
			},
			logger,
			limits: this.#limits,
			dispatch: (c, name: RequestName, data) =>
				(requestHandlers[name] as (ctx: unknown, d: unknown) => Promise<unknown>)(
					{
						service: this.#service,
						stages: this.#stages,
						room: theRoom,
						connection: c,
						closeRevoked: (r: ClientConnection) => setImmediate(() => this.#closeRevoked(r, 'token revoked')),
						ending: async (spaceId: SpaceId) => (this.#lifecycle ? this.#lifecycle.ending(spaceId) : null),
						shares: this.#shares,
						...(this.#iceServers && { iceServers: this.#iceServers }),
					},
					data,
				),
			classify: (error) => {
				const { code, message, unexpected } = classifyError(error);
				if (unexpected) logger.error({ err: error }, 'request failed');
				return { code, message };
			},
		});
		const previous = theRoom.add(connection);
		if (previous) {
			previous.peer?.close();
			previous.close(closeCodes.replaced, 'connected elsewhere');
		}
		// Connected: what is timed from a last connection (a raised hand, a listener record) starts again.
		this.#presence?.mark(actor.spaceId, actor.participantId);
		ws.once('close', () => {
			connection.peer?.close();
			connection.peer = undefined;
			if (theRoom.remove(connection)) this.#presence?.mark(actor.spaceId, actor.participantId);
			if (theRoom.size === 0) {
				theRoom.flush();
				theRoom.close();
				if (this.#rooms.get(actor.spaceId) === theRoom) {
					this.#rooms.delete(actor.spaceId);
					this.#relay?.unwatch(actor.spaceId);
					for (const w of this.#roomWatchers) w.closed(actor.spaceId);
				}
			}
		});
		logger.debug('connected');
	}

	#checkHeartbeats(): void {
		for (const room of this.#rooms.values()) {
			for (const c of room.connections) if (!c.checkAlive()) c.close(1011, 'no pong');
		}
	}

	#on<K extends keyof SpaceServiceEvents & string>(event: K, listener: (...args: SpaceServiceEvents[K]) => void): void {
		this.#service.on(event, listener);
		this.#unsubscribe.push(() => this.#service.off(event, listener));
	}

	/** Space and stage events → protocol events and media actions; this node's events also go to the others. */
	#subscribe(): void {
		const handlers = (this.#handlers = this.#eventHandlers());
		for (const name of relayedEvents) {
			this.#on(name, (e: EventOf<typeof name>) => {
				(handlers[name] as (e: unknown, remote: boolean) => void)(e, false);
				this.#relay?.publish(spaceIdOf(e), { t: 'event', name, data: forRelay(e) });
			});
		}
		// Counted into the next tick, not sent one by one (the tick goes to the other nodes too).
		this.#on('reaction', ({ spaceId, participantId, reaction }) => this.#rooms.get(spaceId)?.react(participantId, reaction as ReactionKind));
		const onStageOpened = (stage: Parameters<Parameters<StageRegistry['on']>[1]>[0], { replaced }: { replaced: boolean }): void => {
			const spaceId = stage.spaceId as SpaceId;
			this.#shares.watch(stage);
			stage.on('activespeaker', (peerId) => {
				this.#rooms.get(spaceId)?.broadcast('activeSpeaker', { participantId: peerId });
				this.#relay?.publish(spaceId, { t: 'activeSpeaker', participantId: peerId });
			});
			stage.on('audiolevels', (levels) =>
				this.#rooms.get(spaceId)?.toStage('audioLevels', { levels: levels.map((l) => ({ participantId: l.peerId, volumeDb: l.volumeDb })) }),
			);
			if (!replaced) return;
			const room = this.#rooms.get(spaceId);
			if (!room) return;
			for (const c of room.connections) {
				if (!c.peer) continue;
				c.peer = undefined;
				c.send('stageReset', {});
			}
		};
		this.#stages.on('stageopened', onStageOpened);
		this.#unsubscribe.push(() => this.#stages.off('stageopened', onStageOpened));
	}

	#eventHandlers(): EventHandlers {
		return {
			roleChanged: ({ spaceId, participant, previousRole }) => {
				const room = this.#rooms.get(spaceId);
				if (!room) return;
				room.broadcast('roleChanged', { participant: participantInfo(participant), previousRole });
				const c = room.get(participant.id);
				if (!c) return;
				c.participant = participant;
				// Moving in or out of the audience changes the listener count.
				room.recount();
				// Tokens do not travel between nodes: the node holding the connection renews its token, in the connection's
				// session and token generation (a session past its age gets none; the connection closes at its end; a
				// generation revoked meanwhile closes it now).
				void this.#service.renewToken(c.actor, c.claims).then(
					({ token, claims }) => {
						if (c.closed) return;
						c.renewed(claims);
						c.send('tokenRenewed', { token, role: claims.role });
					},
					(error: unknown) => {
						if (error instanceof TokenRefusedError && error.reason === 'revoked') this.#closeRevoked(c, 'token revoked');
						else this.#logger.info({ err: error, spaceId }, 'no new token after a role change');
					},
				);
				if (!c.peer) return;
				if (participant.role === 'listener') {
					// Off the stage: their screen share ends (said as a demotion), then the peer goes, and with it every
					// producer and consumer.
					this.#shares.roleChanged(spaceId, this.#stages.get(spaceId), participant.id, participant.role, false);
					c.peer.close();
					c.peer = undefined;
				} else {
					void this.#service.getSpace(spaceId).then(
						(space) => {
							this.#shares.roleChanged(spaceId, this.#stages.get(spaceId), participant.id, participant.role, space.settings.video);
							c.peer?.setGrants(publishGrantsFor(participant.role, space.settings, this.#shares.policy(spaceId)));
						},
						// The space is gone or Redis away: the grants stay as they were until the next change or the space ends.
						() => {},
					);
				}
			},
			muteChanged: ({ spaceId, participant }) => {
				const room = this.#rooms.get(spaceId);
				if (!room) return;
				room.broadcast('muteChanged', { participantId: participant.id, mute: participant.mute });
				const c = room.get(participant.id);
				if (!c) return;
				c.participant = participant;
				c.peer?.setAudioMuted(participant.mute !== 'none').catch((error: unknown) => this.#logger.warn({ err: error }, 'mute failed'));
			},
			handQueueChanged: ({ spaceId, raised, lowered, length, position }) => {
				const room = this.#rooms.get(spaceId);
				if (!room) return;
				// The change only, whatever the queue's length, gathered into the next tick for the moderators.
				room.handChanged({ raised: raised ? participantInfo(raised) : null, lowered: lowered ?? null }, length);
				if (lowered) room.get(lowered)?.send('handChanged', { raised: false });
				// The owner learns their place when they raise; later places are asked for (`handPosition`), not pushed
				// to everyone in the queue on every change.
				if (raised && position !== undefined) room.get(raised.id)?.send('handChanged', { raised: true, position });
			},
			spaceEnding: ({ spaceId, reason, endsAt }) => {
				this.#rooms.get(spaceId)?.toStage('spaceEnding', { reason, endsAt, inS: Math.max(0, Math.round((endsAt - Date.now()) / 1000)) });
			},
			spaceEndingCancelled: ({ spaceId }) => this.#rooms.get(spaceId)?.toStage('spaceEndingCancelled', {}),
			settingsChanged: ({ space }) => this.#rooms.get(space.id)?.broadcast('spaceSettings', { space: spaceInfo(space) }),
			pinnedChanged: ({ spaceId, pinned }) => this.#rooms.get(spaceId)?.broadcast('pinnedChanged', { participantIds: pinned }),
			tokensRevoked: ({ spaceId, participantId, generation, reason, keepTokenId }, remote) => {
				this.#noteRevocation(spaceId, participantId, generation);
				const c = this.#rooms.get(spaceId)?.get(participantId);
				if (!c || c.claims.generation >= generation) return;
				// Only the connection that asked for the rotation, on the node it asked, keeps going (on its new token).
				if (!remote && keepTokenId !== undefined && c.claims.tokenId === keepTokenId) return;
				this.#closeRevoked(c, reason === 'rotated' ? 'token rotated' : 'token revoked');
			},
			participantRemoved: ({ spaceId, participant, banned }) => {
				const c = this.#rooms.get(spaceId)?.get(participant.id);
				if (!c) return;
				c.send('removed', { banned });
				c.peer?.close();
				c.peer = undefined;
				c.close(closeCodes.removed, banned ? 'banned' : 'removed');
			},
			spaceState: ({ space }, remote) => {
				const room = this.#rooms.get(space.id);
				room?.broadcast('spaceState', { space: spaceInfo(space) });
				// The node where the space went live opens its stage; the others open theirs when someone on stage asks.
				if (space.state === 'live' && !remote) {
					this.#stages.open(space.id).catch((error: unknown) => this.#logger.error({ err: error, spaceId: space.id }, 'could not open the stage'));
				}
				if (space.state === 'ended') {
					void this.#stages.close(space.id);
					this.#shares.forget(space.id);
					// Shortly after, so the host's own endSpace reply and the event go out first.
					if (room) setTimeout(() => {
						for (const c of room.connections) c.close(closeCodes.spaceEnded, 'space ended');
					}, 200).unref();
				}
			},
		};
	}

	/** Another node's news for a space this node has connections in. */
	#onRelay(spaceId: SpaceId, body: RelayBody): void {
		switch (body.t) {
			case 'tick':
				this.#rooms.get(spaceId)?.addRemote(body.news);
				return;
			case 'listeners':
				this.#scheduleCount(spaceId);
				return;
			case 'activeSpeaker':
				this.#rooms.get(spaceId)?.broadcast('activeSpeaker', { participantId: body.participantId });
				return;
			case 'screenShare': {
				const { t: _t, ...data } = body;
				void this.#shares.fromRelay(spaceId, data, this.#stages).catch((error: unknown) => this.#logger.warn({ err: error, spaceId }, 'relayed share policy not applied'));
				return;
			}
			case 'event': {
				if (!(relayedEvents as readonly string[]).includes(body.name)) return;
				// Every event is checked in full, and must be about the space of the channel it came on (another node's
				// word is still input).
				const data = relayedEventChecks[body.name as RelayedEvent].safeParse(body.data);
				const about = data.success ? ('space' in data.data ? data.data.space.id : data.data.spaceId) : undefined;
				if (!data.success || about !== spaceId) {
					this.#logger.warn({ spaceId, event: body.name }, 'relay: invalid event dropped');
					return;
				}
				const handler = this.#handlers?.[body.name as RelayedEvent] as ((e: unknown, remote: boolean) => void) | undefined;
				handler?.(data.data, true);
			}
		}
	}

	/**
	 * Reports this node's listener count in a space to the tally and takes the total back: soon after a change (at
	 * once for a new room), at most once per tick, one report in flight. Tells the other nodes when this node's
	 * count moved, so they read the total again.
	 */
	#scheduleCount(spaceId: SpaceId): void {
		if (!this.#tally || this.#closed) return;
		let state = this.#counts.get(spaceId);
		if (!state) this.#counts.set(spaceId, (state = { timer: undefined, running: false, again: false, reported: undefined }));
		if (state.running) {
			state.again = true;
			return;
		}
		if (state.timer) return;
		const theState = state;
		state.timer = setTimeout(() => void this.#reportCount(spaceId, theState), state.reported === undefined ? 0 : this.#batchMs);
	}

	async #reportCount(spaceId: SpaceId, state: { timer: NodeJS.Timeout | undefined; running: boolean; again: boolean; reported: number | undefined }): Promise<void> {
		state.timer = undefined;
		state.running = true;
		const room = this.#rooms.get(spaceId);
		const local = room?.localListenerCount ?? 0;
		try {
			const { listeners: total } = await this.#tally!.report(spaceId, local, room?.localModeratorCount ?? 0);
			this.#rooms.get(spaceId)?.setListenerTotal(total);
			if (local !== state.reported) {
				state.reported = local;
				this.#relay?.publish(spaceId, { t: 'listeners' });
			}
		} catch (error) {
			this.#logger.warn({ err: error, spaceId }, 'could not report the listener count');
		} finally {
			state.running = false;
			if (state.again) {
				state.again = false;
				this.#scheduleCount(spaceId);
			} else if (!this.#rooms.has(spaceId)) this.#counts.delete(spaceId);
		}
	}

	/** Closes a connection whose token was revoked (4013), its media first. */
	#closeRevoked(c: ClientConnection, reason: string): void {
		this.#closeWithMedia(c, closeCodes.revoked, reason);
	}

	/** Closes a connection whose token no longer holds: its stage media (transports, producers) first, then the socket. */
	#closeWithMedia(c: ClientConnection, code: number, reason: string): void {
		c.peer?.close();
		c.peer = undefined;
		c.close(code, reason);
	}

	/**
	 * Reads the current token generations of connections in `spaceIds` (all of them, or those on stage and the
	 * moderators) and closes those whose generation moved on: revocations whose event this node missed. One MGET per
	 * `sweepBatch` connections, all sent at once.
	 */
	async #sweepRevocations(spaceIds: readonly SpaceId[], who: 'all' | 'stage'): Promise<void> {
		await Promise.all(
			spaceIds.map(async (spaceId) => {
				const room = this.#rooms.get(spaceId);
				if (!room) return;
				const connections = [...room.connections].filter((c) => who === 'all' || c.participant.role !== 'listener');
				for (let i = 0; i < connections.length; i += sweepBatch) {
					// Each connection's claims as they were before the read: a connection that renewed or rotated since,
					// or is in the middle of a request (a rotation moves the generation before its new claims land), is
					// left to its own path.
					const batch = connections.slice(i, i + sweepBatch).map((c) => ({ c, claims: c.claims }));
					let generations: number[];
					try {
						generations = await this.#service.tokenGenerations(spaceId, batch.map(({ c }) => c.actor.participantId));
					} catch (error) {
						this.#logger.warn({ err: error, spaceId }, 'revocation sweep: could not read token generations');
						return;
					}
					batch.forEach(({ c, claims }, j) => {
						if (c.closed || !c.idle || c.claims !== claims || (generations[j] ?? 0) <= claims.generation) return;
						this.#logger.info({ spaceId, participantId: c.actor.participantId }, 'revocation sweep: closing a revoked connection');
						this.#closeRevoked(c, 'token revoked');
					});
				}
			}),
		);
	}

	/** Remembers a revocation for upgrades in flight as it arrives; bounded in time and count. */
	#noteRevocation(spaceId: SpaceId, participantId: string, generation: number): void {
		const key = `${spaceId} ${participantId}`;
		const now = Date.now();
		this.#recentRevocations.delete(key);
		this.#recentRevocations.set(key, { generation, atMs: now });
		for (const [k, r] of this.#recentRevocations) {
			if (now - r.atMs < recentRevocationMs && this.#recentRevocations.size <= maxRecentRevocations) break;
			this.#recentRevocations.delete(k);
		}
	}

	/** For tests: the connection of a participant on this process. */
	connectionOf(spaceId: SpaceId, participantId: ParticipantId): ClientConnection | undefined {
		return this.#rooms.get(spaceId)?.get(participantId);
	}
}

/** What the caps kept over every node said about a new connection (see `#admitAcrossNodes`). */
interface Admitted {
	/** Close the socket with this as soon as it opens. */
	refused?: { code: number; reason: string };
	/** The address place taken for it, given back when it closes. */
	addressTag?: string;
}

/** How long an upgrade waits for Redis to answer the caps kept over every node, ms. */
const upgradeRedisWaitMs = 1500;

/** `promise`'s value, or `fallback` when it takes longer than `ms` (its later failure is dropped: nobody waits). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	// Past the deadline nobody waits for it: a late failure (Redis away) is the fallback's case, already taken.
	promise.catch(() => {});
	return Promise.race([promise, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]).finally(() => clearTimeout(timer));
}

function headerValue(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value.join(',') : value;
}

function spaceIdOf(e: EventOf<RelayedEvent>): SpaceId {
	return 'spaceId' in e ? e.spaceId : e.space.id;
}

/** An event as it goes to the other nodes: JSON. No event carries a token (each node issues its own). */
function forRelay(e: EventOf<RelayedEvent>): Record<string, unknown> {
	return { ...e };
}
