export { StageLinkClient, StageLinkError } from './StageLinkClient.js';
export {
	stageLinkKeys,
	stageLinkLeaseMs,
	stageLinkMethods,
	stageLinkReplySchema,
	stageLinkRequestSchema,
	stageLinkScreenSchema,
	stageLinkSnapshotSchema,
	type StageLinkMethod,
	type StageLinkParams,
	type StageLinkReply,
	type StageLinkRequest,
	type StageLinkResult,
	type StageLinkScreen,
	type StageLinkSnapshot,
	type StageLinkSpeaker,
} from './stageLinkProtocol.js';
