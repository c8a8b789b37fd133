/**
 * A minimal, valid ONNX model (y = Identity(x), float[1]) encoded by hand: a real file ONNX Runtime parses and loads,
 * but not a transducer, so sherpa-onnx must reject it. No ONNX tooling is installed here, and none is needed for
 * protobuf this small.
 */

function varint(n: number): number[] {
	const out: number[] = [];
	while (n > 0x7f) {
		out.push((n & 0x7f) | 0x80);
		n >>>= 7;
	}
	out.push(n);
	return out;
}

const varintField = (field: number, value: number): number[] => [...varint((field << 3) | 0), ...varint(value)];
const bytesField = (field: number, bytes: number[]): number[] => [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
const stringField = (field: number, text: string): number[] => bytesField(field, [...Buffer.from(text, 'utf8')]);

/** ValueInfoProto for a float tensor of shape [1]. */
function floatValue(name: string): number[] {
	const dim = varintField(1, 1); // Dimension.dim_value
	const shape = bytesField(1, dim); // TensorShapeProto.dim
	const tensor = [...varintField(1, 1), ...bytesField(2, shape)]; // elem_type FLOAT, shape
	const type = bytesField(1, tensor); // TypeProto.tensor_type
	return [...stringField(1, name), ...bytesField(2, type)];
}

/** The bytes of `y = Identity(x)` as an ONNX ModelProto (IR version 8, opset 13), with optional metadata. */
export function identityOnnxModel(metadata: Record<string, string> = {}): Buffer {
	const node = [...stringField(1, 'x'), ...stringField(2, 'y'), ...stringField(4, 'Identity')];
	const graph = [...bytesField(1, node), ...stringField(2, 'identity'), ...bytesField(11, floatValue('x')), ...bytesField(12, floatValue('y'))];
	const opset = [...stringField(1, ''), ...varintField(2, 13)];
	const props = Object.entries(metadata).flatMap(([key, value]) => bytesField(14, [...stringField(1, key), ...stringField(2, value)]));
	return Buffer.from([...varintField(1, 8), ...stringField(2, 'tribune-test'), ...bytesField(7, graph), ...bytesField(8, opset), ...props]);
}
