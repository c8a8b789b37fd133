import type { ParticipantId, SpaceId } from '../spaces/Space.js';
import { hasGrant } from '../spaces/roles/grantsForRole.js';
import type { ClientConnection } from './ClientConnection.js';
import type { EventData, EventName, ParticipantInfo } from './protocol.js';
import { participantInfo } from './toWire.js';

/**
 * The connections of one space in this process, one per participant. Joins and leaves are collected and sent as
 * one batch per `batchMs`, with the listener count when it changed, so a thousand listeners arriving at once cost
 * everyone a few messages instead of a thousand.
 */
export class SpaceRoom {
	readonly spaceId: SpaceId;
	readonly #connections = new Map<ParticipantId, ClientConnection>();
	readonly #batchMs: number;
	#joined = new Map<ParticipantId, ParticipantInfo>();
	#left = new Set<ParticipantId>();
	#timer: NodeJS.Timeout | undefined;
	#lastListenerCount = -1;

	constructor(spaceId: SpaceId, batchMs: number) {
		this.spaceId = spaceId;
		this.#batchMs = batchMs;
	}

	get size(): number {
		return this.#connections.size;
	}

	get connections(): IterableIterator<ClientConnection> {
		return this.#connections.values();
	}

	get listenerCount(): number {
		let n = 0;
		for (const c of this.#connections.values()) if (c.participant.role === 'listener') n++;
		return n;
	}

	get(participantId: ParticipantId): ClientConnection | undefined {
		return this.#connections.get(participantId);
	}

	/** Adds a connection; returns the one it replaces (the same participant on an older connection), if any. */
	add(connection: ClientConnection): ClientConnection | undefined {
		const id = connection.actor.participantId;
		const previous = this.#connections.get(id);
		this.#connections.set(id, connection);
		if (!previous) {
			this.#left.delete(id);
			this.#joined.set(id, participantInfo(connection.participant));
			this.#schedule();
		}
		return previous;
	}

	/** Removes a connection if it is still the participant's current one. */
	remove(connection: ClientConnection): boolean {
		const id = connection.actor.participantId;
		if (this.#connections.get(id) !== connection) return false;
		this.#connections.delete(id);
		if (!this.#joined.delete(id)) this.#left.add(id);
		this.#schedule();
		return true;
	}

	broadcast<N extends EventName>(event: N, data: EventData[N]): void {
		for (const c of this.#connections.values()) c.send(event, data);
	}

	/** Sends to those on stage, who hear each other in real time (listeners hear the broadcast, later). */
	toStage<N extends EventName>(event: N, data: EventData[N]): void {
		for (const c of this.#connections.values()) if (c.participant.role !== 'listener') c.send(event, data);
	}

	/** Sends to those who may manage the stage (host and co-hosts). */
	toModerators<N extends EventName>(event: N, data: EventData[N]): void {
		for (const c of this.#connections.values()) if (hasGrant(c.participant.role, 'manage_stage')) c.send(event, data);
	}

	/** Sends pending joins/leaves now (tests and shutdown); normally the timer does. */
	flush(): void {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = undefined;
		if (this.#joined.size > 0) this.broadcast('participantsJoined', { participants: [...this.#joined.values()] });
		if (this.#left.size > 0) this.broadcast('participantsLeft', { participantIds: [...this.#left] });
		this.#joined = new Map();
		this.#left = new Set();
		this.#announceListenerCount();
	}

	/** Role changes move people in or out of the audience: recount soon. */
	listenersMayHaveChanged(): void {
		this.#schedule();
	}

	close(): void {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = undefined;
	}

	#announceListenerCount(): void {
		const count = this.listenerCount;
		if (count === this.#lastListenerCount) return;
		this.#lastListenerCount = count;
		this.broadcast('listenerCount', { count });
	}

	#schedule(): void {
		this.#timer ??= setTimeout(() => this.flush(), this.#batchMs);
	}
}
