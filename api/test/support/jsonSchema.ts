/**
 * A JSON Schema (2020-12) checker for the keywords the OpenAPI document uses, for tests. A keyword it does not know
 * fails loudly instead of passing: a schema it cannot fully check is a test that cannot fail.
 */
type Schema = Record<string, unknown>;

/** Keywords that describe rather than constrain. */
const annotations = new Set(['description', 'default', 'title', 'examples', 'format', '$schema', 'id']);

/** Problems of `value` against `schema` (empty: valid). `root` resolves `$ref: '#/…'`. */
export function schemaProblems(schema: Schema, value: unknown, root: Schema, at = '$'): string[] {
	const problems: string[] = [];
	for (const [keyword, rule] of Object.entries(schema)) {
		if (annotations.has(keyword)) continue;
		switch (keyword) {
			case '$ref': {
				const target = (rule as string).replace(/^#\//, '').split('/').reduce<unknown>((node, part) => (node as Schema)[part], root);
				if (target === undefined) throw new Error(`unresolved $ref ${String(rule)}`);
				problems.push(...schemaProblems(target as Schema, value, root, at));
				break;
			}
			case 'type': {
				const types = Array.isArray(rule) ? (rule as string[]) : [rule as string];
				if (!types.some((type) => hasType(value, type))) problems.push(`${at}: expected ${types.join('|')}, got ${JSON.stringify(value)}`);
				break;
			}
			case 'enum':
				if (!(rule as unknown[]).some((option) => option === value)) problems.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(rule)}`);
				break;
			case 'const':
				if (rule !== value) problems.push(`${at}: expected ${JSON.stringify(rule)}`);
				break;
			case 'properties':
				if (isObject(value)) {
					for (const [name, sub] of Object.entries(rule as Record<string, Schema>)) {
						if (name in value) problems.push(...schemaProblems(sub, value[name], root, `${at}.${name}`));
					}
				}
				break;
			case 'required':
				if (isObject(value)) for (const name of rule as string[]) if (!(name in value)) problems.push(`${at}: missing ${name}`);
				break;
			case 'additionalProperties':
				if (isObject(value)) {
					const known = Object.keys((schema.properties as Schema | undefined) ?? {});
					for (const name of Object.keys(value).filter((key) => !known.includes(key))) {
						if (rule === false) problems.push(`${at}: unexpected property ${name}`);
						else problems.push(...schemaProblems(rule as Schema, value[name], root, `${at}.${name}`));
					}
				}
				break;
			case 'items':
				if (Array.isArray(value)) value.forEach((item, i) => problems.push(...schemaProblems(rule as Schema, item, root, `${at}[${i}]`)));
				break;
			case 'anyOf':
			case 'oneOf': {
				const matching = (rule as Schema[]).filter((option) => schemaProblems(option, value, root, at).length === 0).length;
				if (keyword === 'anyOf' ? matching === 0 : matching !== 1) problems.push(`${at}: ${matching} of ${keyword} match ${JSON.stringify(value)}`);
				break;
			}
			case 'minItems':
				if (Array.isArray(value) && value.length < (rule as number)) problems.push(`${at}: fewer than ${String(rule)} items`);
				break;
			case 'maxItems':
				if (Array.isArray(value) && value.length > (rule as number)) problems.push(`${at}: more than ${String(rule)} items`);
				break;
			case 'minLength':
				if (typeof value === 'string' && [...value].length < (rule as number)) problems.push(`${at}: shorter than ${String(rule)}`);
				break;
			case 'maxLength':
				if (typeof value === 'string' && [...value].length > (rule as number)) problems.push(`${at}: longer than ${String(rule)}`);
				break;
			case 'pattern':
				if (typeof value === 'string' && !new RegExp(rule as string, 'u').test(value)) problems.push(`${at}: ${JSON.stringify(value)} does not match ${String(rule)}`);
				break;
			case 'minimum':
				if (typeof value === 'number' && value < (rule as number)) problems.push(`${at}: below ${String(rule)}`);
				break;
			case 'maximum':
				if (typeof value === 'number' && value > (rule as number)) problems.push(`${at}: above ${String(rule)}`);
				break;
			case 'exclusiveMinimum':
				if (typeof value === 'number' && value <= (rule as number)) problems.push(`${at}: not above ${String(rule)}`);
				break;
			default:
				throw new Error(`${at}: the test's schema checker does not know the keyword ${keyword}`);
		}
	}
	return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: string): boolean {
	switch (type) {
		case 'object':
			return isObject(value);
		case 'array':
			return Array.isArray(value);
		case 'integer':
			return Number.isInteger(value);
		case 'null':
			return value === null;
		default:
			return typeof value === type;
	}
}
