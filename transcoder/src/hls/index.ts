export { BoxParser, type BoxParserOptions, type Mp4Box } from './BoxParser.js';
export { buildHlsEncodePlan, type HlsEncodeOptions, type HlsEncodePlan } from './buildHlsEncodePlan.js';
export { parseFragment, type FragmentInfo, type TrackFragment } from './FragmentInfo.js';
export { HlsDiskWriter } from './HlsDiskWriter.js';
export {
	decodeHlsMessage,
	encodeHlsMessage,
	type HlsEvent,
	type HlsMessage,
	type RenditionInfo,
	type StreamDescriptor,
	type UnnumberedHlsEvent,
} from './HlsEvent.js';
export * from './hlsNames.js';
export { parseInitSection, type InitSection, type TrackInfo } from './InitSection.js';
export { MediaTimeline, type NewPart, type TimelinePart, type TimelineSegment } from './MediaTimeline.js';
export { renderMultivariantPlaylist } from './MultivariantPlaylist.js';
export { Packager, type HlsSink, type PackagerOptions, type RenditionSpec } from './Packager.js';
export { renderMediaPlaylist, type LowLatencyOptions, type MediaPlaylistOptions, type RenditionReport } from './PlaylistWriter.js';
export { hlsRedisKeys, RedisHlsPublisher, type RedisHlsPublisherOptions } from './RedisHlsPublisher.js';
export { runHlsEncoder, type HlsEncoderRun } from './runHlsEncoder.js';
export { feedPositionOf, planStreamResume, readFeedPosition, readReplayJournals, type FeedPosition, type StreamResume } from './streamResume.js';
export type { RenditionResume, ReplaySegment } from './RenditionPackager.js';
export { Segmenter, type FragmentTiming, type PartPlacement } from './Segmenter.js';
export { renderWebVtt, WebVttSegmenter, type Cue } from './WebVttSegmenter.js';
export { pruneReplays, startReplayPruner } from './pruneReplays.js';
export { averageSegmentBitRate, peakSegmentBitRate, type SizedSegment } from './segmentBitRates.js';
export { drainedStopSignal, type ReplayDrainOptions } from './replayDrain.js';
