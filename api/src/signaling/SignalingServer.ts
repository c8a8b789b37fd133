import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { StageRegistry } from '@tribune/ingest';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { TribuneError } from '../errors.js';
import type { ParticipantId, SpaceId } from '../spaces/Space.js';
import type { SpaceService, SpaceServiceEvents } from '../spaces/SpaceService.js';
import { publishGrantsFor } from '../stage/publishGrantsFor.js';
import { ClientConnection, defaultSignalingLimits, type SignalingLimits } from './ClientConnection.js';
import { classifyError, requestHandlers } from './requestHandlers.js';
import type { EventData, EventName, ReactionKind, RequestName } from './protocol.js';
import { SpaceRoom, type RoomLink } from './SpaceRoom.js';
import { participantInfo, spaceInfo } from './toWire.js';

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
}

/** Told when a space gets its first connection on this process, and when its last one goes. */
export interface RoomWatcher {
	opened(spaceId: SpaceId): void;
	closed(spaceId: SpaceId): void;
}

/** WebSocket close codes of Tribune (4000-4999 is the application range). */
export const closeCodes = { replaced: 4009, removed: 4003, spaceEnded: 4010, shuttingDown: 1001 } as const;

/** Largest frame `ws` accepts before closing the socket; messages over the protocol limit below it get a reply. */
const hardMaxPayloadBytes = 1024 * 1024;

/**
 * WebSocket signaling on `/ws?token=…`: authenticates at the upgrade, keeps a room per space, runs requests
 * through `requestHandlers`, and turns the space's and the stage's events into protocol events for the right
 * people. Media follows roles here: a demoted speaker's peer closes, a muted one's audio pauses.
 *
 * Events reach the connections of this process; several API processes per space would relay them through Redis.
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
	readonly #unsubscribe: (() => void)[] = [];
	readonly #roomWatchers = new Set<RoomWatcher>();
	/** One node alone: its own listeners are the total, and there is nobody to relay ticks to. */
	readonly #link: RoomLink = {
		published: () => {},
		localListenersChanged: (spaceId, count) => this.#rooms.get(spaceId)?.setListenerTotal(count),
	};
	#closed = false;

	constructor(options: SignalingOptions) {
		this.#service = options.service;
		this.#stages = options.stages;
		this.#logger = options.logger;
		this.#limits = { ...defaultSignalingLimits, ...options.limits };
		this.#batchMs = options.presenceBatchMs ?? 100;
		// skipUTF8Validation: a text frame with invalid UTF-8 gets a `bad_request` reply (it cannot parse as JSON) instead
		// of ws closing the connection with 1007.
		this.#wss = new WebSocketServer({ noServer: true, maxPayload: hardMaxPayloadBytes, perMessageDeflate: false, skipUTF8Validation: true });
		this.#heartbeat = setInterval(() => this.#checkHeartbeats(), options.heartbeatMs ?? 30_000).unref();
		this.#subscribe();
	}

	/** Routes `/ws` upgrades of an HTTP server here; other upgrade paths are left alone. */
	attach(server: http.Server): void {
		server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
			const url = new URL(req.url ?? '/', 'http://localhost');
			if (url.pathname !== '/ws') return;
			void this.#upgrade(req, socket, head, url);
		});
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

	/** Closes every connection and stops listening to events. Idempotent. */
	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#heartbeat);
		for (const off of this.#unsubscribe) off();
		for (const room of this.#rooms.values()) {
			room.close();
			for (const c of room.connections) c.close(closeCodes.shuttingDown, 'server shutting down');
		}
		this.#rooms.clear();
		this.#wss.close();
	}

	async #upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
		socket.on('error', () => socket.destroy());
		const token = url.searchParams.get('token') ?? '';
		let auth: Awaited<ReturnType<SpaceService['authenticate']>>;
		try {
			if (this.#closed) throw new TribuneError('unavailable', 'shutting down');
			auth = await this.#service.authenticate(token);
		} catch (error) {
			const { code } = classifyError(error);
			const status = error instanceof TribuneError ? error.status : 500;
			socket.end(`HTTP/1.1 ${status} ${code}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${code.length}\r\n\r\n${code}`);
			return;
		}
		this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, auth));
	}

	#onConnection(ws: WebSocket, auth: Awaited<ReturnType<SpaceService['authenticate']>>): void {
		const { actor, participant } = auth;
		const logger = this.#logger.child({ spaceId: actor.spaceId, participantId: actor.participantId });
		let room = this.#rooms.get(actor.spaceId);
		if (!room) {
			room = new SpaceRoom(actor.spaceId, this.#batchMs, this.#link);
			this.#rooms.set(actor.spaceId, room);
			for (const w of this.#roomWatchers) w.opened(actor.spaceId);
		}
		const theRoom = room;
		const connection: ClientConnection = new ClientConnection({
			socket: ws,
			actor,
			participant,
			logger,
			limits: this.#limits,
			dispatch: (c, name: RequestName, data) => (requestHandlers[name] as (ctx: unknown, d: unknown) => Promise<unknown>)({ service: this.#service, stages: this.#stages, room: theRoom, connection: c }, data),
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
		ws.once('close', () => {
			connection.peer?.close();
			connection.peer = undefined;
			theRoom.remove(connection);
			if (theRoom.size === 0) {
				theRoom.flush();
				theRoom.close();
				if (this.#rooms.get(actor.spaceId) === theRoom) {
					this.#rooms.delete(actor.spaceId);
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

	/** Space and stage events → protocol events and media actions. */
	#subscribe(): void {
		this.#on('roleChanged', ({ spaceId, participant, previousRole, token }) => {
			const room = this.#rooms.get(spaceId);
			if (!room) return;
			room.broadcast('roleChanged', { participant: participantInfo(participant), previousRole });
			const c = room.get(participant.id);
			if (!c) return;
			c.participant = participant;
			// Moving in or out of the audience changes the listener count.
			room.recount();
			c.send('tokenRenewed', { token, role: participant.role });
			if (!c.peer) return;
			if (participant.role === 'listener') {
				// Off the stage: the peer goes, and with it every producer and consumer.
				c.peer.close();
				c.peer = undefined;
			} else {
				void this.#service.getSpace(spaceId).then((space) => c.peer?.setGrants(publishGrantsFor(participant.role, space.settings)), () => {});
			}
		});
		this.#on('muteChanged', ({ spaceId, participant }) => {
			const room = this.#rooms.get(spaceId);
			if (!room) return;
			room.broadcast('muteChanged', { participantId: participant.id, mute: participant.mute });
			const c = room.get(participant.id);
			if (!c) return;
			c.participant = participant;
			c.peer?.setAudioMuted(participant.mute !== 'none').catch((error: unknown) => this.#logger.warn({ err: error }, 'mute failed'));
		});
		this.#on('handQueueChanged', ({ spaceId, queue, raised, lowered }) => {
			const room = this.#rooms.get(spaceId);
			if (!room) return;
			room.toModerators('handQueueChanged', { queue: queue.map(participantInfo), raised: raised ?? null, lowered: lowered ?? null });
			if (lowered) room.get(lowered)?.send('handChanged', { raised: false });
			// Everyone waiting learns their place (first raised first) whenever the queue changes.
			queue.forEach((p, i) => room.get(p.id)?.send('handChanged', { raised: true, position: i + 1 }));
		});
		this.#on('settingsChanged', ({ space }) => this.#rooms.get(space.id)?.broadcast('spaceSettings', { space: spaceInfo(space) }));
		this.#on('pinnedChanged', ({ spaceId, pinned }) => this.#rooms.get(spaceId)?.broadcast('pinnedChanged', { participantIds: pinned }));
		// Counted into the next tick, not sent one by one.
		this.#on('reaction', ({ spaceId, participantId, reaction }) => this.#rooms.get(spaceId)?.react(participantId, reaction as ReactionKind));
		this.#on('participantRemoved', ({ spaceId, participant, banned }) => {
			const c = this.#rooms.get(spaceId)?.get(participant.id);
			if (!c) return;
			c.send('removed', { banned });
			c.peer?.close();
			c.peer = undefined;
			c.close(closeCodes.removed, banned ? 'banned' : 'removed');
		});
		this.#on('spaceState', ({ space }) => {
			const room = this.#rooms.get(space.id);
			room?.broadcast('spaceState', { space: spaceInfo(space) });
			if (space.state === 'live') {
				this.#stages.open(space.id).catch((error: unknown) => this.#logger.error({ err: error, spaceId: space.id }, 'could not open the stage'));
			}
			if (space.state === 'ended') {
				void this.#stages.close(space.id);
				// Shortly after, so the host's own endSpace reply and the event go out first.
				if (room) setTimeout(() => {
					for (const c of room.connections) c.close(closeCodes.spaceEnded, 'space ended');
				}, 200).unref();
			}
		});
		const onStageOpened = (stage: Parameters<Parameters<StageRegistry['on']>[1]>[0], { replaced }: { replaced: boolean }): void => {
			const spaceId = stage.spaceId as SpaceId;
			stage.on('activespeaker', (peerId) => this.#rooms.get(spaceId)?.broadcast('activeSpeaker', { participantId: peerId }));
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

	/** For tests: the connection of a participant on this process. */
	connectionOf(spaceId: SpaceId, participantId: ParticipantId): ClientConnection | undefined {
		return this.#rooms.get(spaceId)?.get(participantId);
	}
}
