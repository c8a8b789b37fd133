/**
 * Small, valid ONNX models encoded by hand (no ONNX tooling is installed here, and none is needed for protobuf this
 * small): real files ONNX Runtime parses, loads and runs.
 * - `identityOnnxModel()`: y = Identity(x), not a transducer, so sherpa-onnx must reject it.
 * - `toyLstmTransducer()`: a streaming transducer sherpa-onnx loads as an `lstm` model. It knows one token: it emits
 *   `▁A` (id 3) for a 40 ms output frame whose mean log-mel energy is above a threshold and blank otherwise, so loud
 *   broadband audio (white noise) gives an `a` per frame and silence nothing (a pure tone, whose energy sits in one
 *   mel band, only at its onset). Not speech recognition, but the whole real path (native addon, ONNX Runtime,
 *   endpointing, timestamps) with audio whose expected output is known.
 */

function varint(n: number): number[] {
	const out: number[] = [];
	while (n > 0x7f) {
		out.push((n & 0x7f) | 0x80);
		n = Math.floor(n / 128);
	}
	out.push(n);
	return out;
}

type Bytes = number[];
const varintField = (field: number, value: number): Bytes => [...varint(field * 8), ...varint(value)];
const bytesField = (field: number, bytes: Bytes): Bytes => [...varint(field * 8 + 2), ...varint(bytes.length), ...bytes];
const stringField = (field: number, text: string): Bytes => bytesField(field, [...Buffer.from(text, 'utf8')]);

const float = 1;
const int64 = 7;

/** ValueInfoProto of a tensor; a string dimension is symbolic (dynamic). */
function value(name: string, elemType: number, dims: (number | string)[]): Bytes {
	const shape = dims.flatMap((d) => bytesField(1, typeof d === 'number' ? varintField(1, d) : stringField(2, d)));
	const tensor = [...varintField(1, elemType), ...bytesField(2, shape)];
	return [...stringField(1, name), ...bytesField(2, bytesField(1, tensor))];
}

function node(op: string, inputs: string[], outputs: string[], intAttributes: Record<string, number> = {}): Bytes {
	const attributes = Object.entries(intAttributes).flatMap(([name, i]) => bytesField(5, [...stringField(1, name), ...varintField(3, i), ...varintField(20, 2)]));
	return [...inputs.flatMap((i) => stringField(1, i)), ...outputs.flatMap((o) => stringField(2, o)), ...stringField(4, op), ...attributes];
}

function floatTensor(name: string, dims: number[], values: number[]): Bytes {
	const raw = Buffer.alloc(values.length * 4);
	values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
	return [...dims.flatMap((d) => varintField(1, d)), ...varintField(2, float), ...stringField(8, name), ...bytesField(9, [...raw])];
}

function int64Tensor(name: string, values: number[]): Bytes {
	const raw = Buffer.alloc(values.length * 8);
	values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), i * 8));
	return [...varintField(1, values.length), ...varintField(2, int64), ...stringField(8, name), ...bytesField(9, [...raw])];
}

interface Graph {
	nodes: Bytes[];
	initializers?: Bytes[];
	inputs: Bytes[];
	outputs: Bytes[];
	metadata?: Record<string, string>;
}

function model(graph: Graph): Buffer {
	const g = [
		...graph.nodes.flatMap((n) => bytesField(1, n)),
		...stringField(2, 'g'),
		...(graph.initializers ?? []).flatMap((t) => bytesField(5, t)),
		...graph.inputs.flatMap((i) => bytesField(11, i)),
		...graph.outputs.flatMap((o) => bytesField(12, o)),
	];
	const opset = [...stringField(1, ''), ...varintField(2, 13)];
	const props = Object.entries(graph.metadata ?? {}).flatMap(([key, v]) => bytesField(14, [...stringField(1, key), ...stringField(2, v)]));
	return Buffer.from([...varintField(1, 8), ...stringField(2, 'tribune-test'), ...bytesField(7, g), ...bytesField(8, opset), ...props]);
}

/** The bytes of `y = Identity(x)` as an ONNX ModelProto (IR version 8, opset 13). */
export function identityOnnxModel(): Buffer {
	return model({ nodes: [node('Identity', ['x'], ['y'])], inputs: [value('x', float, [1])], outputs: [value('y', float, [1])] });
}

const featureDim = 80;
const vocab = 5;
/** Feature frames per encoder chunk; the encoder keeps every 4th (sherpa-onnx's subsampling of 40 ms frames). */
const chunkFrames = 16;

/** tokens.txt of the toy transducer. */
export const toyTokens = '<blk> 0\n<sos/eos> 1\n<unk> 2\n▁A 3\n▁B 4\n';

/**
 * encoder.onnx, decoder.onnx and joiner.onnx of the toy transducer. `thresholdLogMel`: mean log-mel energy (natural
 * log) above which a frame emits `▁A`; digital silence sits at about -15.9 (the fbank energy floor).
 */
export function toyLstmTransducer(thresholdLogMel = -6): Record<'encoder' | 'decoder' | 'joiner', Buffer> {
	const encoder = model({
		nodes: [
			node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['encoder_out']),
			node('Identity', ['h'], ['next_h']),
			node('Identity', ['c'], ['next_c']),
		],
		initializers: [int64Tensor('starts', [0]), int64Tensor('ends', [chunkFrames]), int64Tensor('axes', [1]), int64Tensor('steps', [4])],
		inputs: [value('x', float, ['N', chunkFrames, featureDim]), value('h', float, [1, 'N', 4]), value('c', float, [1, 'N', 4])],
		outputs: [value('encoder_out', float, ['N', chunkFrames / 4, featureDim]), value('next_h', float, [1, 'N', 4]), value('next_c', float, [1, 'N', 4])],
		metadata: { model_type: 'lstm', num_encoder_layers: '1', T: String(chunkFrames), decode_chunk_len: String(chunkFrames), rnn_hidden_size: '4', d_model: '4' },
	});
	const decoder = model({
		nodes: [node('Cast', ['y'], ['y_float'], { to: float }), node('MatMul', ['y_float', 'w'], ['decoder_out'])],
		initializers: [floatTensor('w', [2, featureDim], new Array<number>(2 * featureDim).fill(0))],
		inputs: [value('y', int64, ['N', 2])],
		outputs: [value('decoder_out', float, ['N', featureDim])],
		metadata: { vocab_size: String(vocab), context_size: '2' },
	});
	// logit(▁A) = mean(features) - threshold; blank 0; the rest never win.
	const w = new Array<number>(featureDim * vocab).fill(0);
	for (let i = 0; i < featureDim; i++) w[i * vocab + 3] = 1 / featureDim;
	const joiner = model({
		nodes: [node('Add', ['encoder_out', 'decoder_out'], ['sum']), node('MatMul', ['sum', 'w'], ['scores']), node('Add', ['scores', 'bias'], ['logit'])],
		initializers: [floatTensor('w', [featureDim, vocab], w), floatTensor('bias', [vocab], [0, -1000, -1000, -thresholdLogMel, -1000])],
		inputs: [value('encoder_out', float, ['N', featureDim]), value('decoder_out', float, ['N', featureDim])],
		outputs: [value('logit', float, ['N', vocab])],
	});
	return { encoder, decoder, joiner };
}
