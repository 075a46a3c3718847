// An audit entry's details (the event's payload) as labelled fields a person reads: keys in
// words, nested values flattened under their parent's label, times local, and ids shortened —
// the full id is kept beside the short one, for a title and for copying.
import { formatTime } from '../format';

/** A piece of a value; `id` is the full id when `text` shows only its start. */
export interface ValuePart {
  text: string;
  id?: string;
}

export interface DetailField {
  label: string;
  value: ValuePart[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

/** Words written their own way rather than merely capitalised. */
const WORDS: Record<string, string> = {
  id: 'ID',
  ids: 'IDs',
  vm: 'VM',
  vms: 'VMs',
  vcpus: 'vCPUs',
  cpu: 'CPU',
  ip: 'IP',
  url: 'URL',
  os: 'OS',
  ssh: 'SSH',
  vnc: 'VNC',
  sha256: 'SHA-256',
};

/** Unit suffixes, shown after the label in brackets: `memory_mib` → "Memory (MiB)". */
const UNITS: Record<string, string> = { mib: 'MiB', gib: 'GiB', ms: 'ms', secs: 's', seconds: 's' };

/** `bytes_in` → "Bytes in", `memoryMib` → "Memory (MiB)", `vm_id` → "VM ID". */
export function humanKey(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
  const unit = words.length > 1 ? UNITS[words[words.length - 1]] : undefined;
  if (unit) words.pop();
  // The first word capitalised, unless it has its own spelling ("vCPUs").
  const label = words.map((word, i) => WORDS[word] ?? (i ? word : word.charAt(0).toUpperCase() + word.slice(1))).join(' ');
  return unit ? `${label} (${unit})` : label;
}

/** A string with every UUID in it cut to its first 8 characters (`account:<uuid>` → "account 1b4e28ba"). */
export function textParts(value: string): ValuePart[] {
  if (TIMESTAMP.test(value)) return [{ text: formatTime(value) }];
  const parts: ValuePart[] = [];
  let last = 0;
  for (const match of value.matchAll(UUID)) {
    const before = value.slice(last, match.index);
    // `account:<id>` reads "account <id>".
    if (before) parts.push({ text: before.replace(/:$/, ' ') });
    parts.push({ text: match[0].slice(0, 8), id: match[0] });
    last = match.index + match[0].length;
  }
  if (last < value.length) parts.push({ text: value.slice(last) });
  return parts.length ? parts : [{ text: '—' }];
}

function scalarParts(value: unknown): ValuePart[] {
  if (value === null || value === undefined || value === '') return [{ text: '—' }];
  if (typeof value === 'boolean') return [{ text: value ? 'yes' : 'no' }];
  if (typeof value === 'number') return [{ text: value.toLocaleString() }];
  return textParts(String(value));
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isScalar = (value: unknown) => !isObject(value) && !Array.isArray(value);

function collect(value: unknown, label: string, into: DetailField[]) {
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (!entries.length) into.push({ label, value: [{ text: '—' }] });
    for (const [key, inner] of entries) collect(inner, label ? `${label} › ${humanKey(key)}` : humanKey(key), into);
  } else if (Array.isArray(value) && !value.every(isScalar)) {
    value.forEach((item, i) => collect(item, `${label} ${i + 1}`, into));
  } else if (Array.isArray(value)) {
    const parts = value.flatMap((item, i) => (i ? [{ text: ', ' }, ...scalarParts(item)] : scalarParts(item)));
    into.push({ label, value: parts.length ? parts : [{ text: 'none' }] });
  } else {
    into.push({ label: label || 'Details', value: scalarParts(value) });
  }
}

/** The details as fields in the payload's order; none for an event without a payload. */
export function detailFields(details: unknown): DetailField[] {
  if (details === null || details === undefined) return [];
  const fields: DetailField[] = [];
  collect(details, '', fields);
  return fields;
}
