import { describe, expect, it } from 'vitest';
import { splitByField } from '../../src/api/errors';
import { addSample, nameFromFile, rateOf, uploadProblem, uploadUrl } from '../../src/api/upload';
import { formatDuration, formatRate } from '../../src/format';
import {
  applyProgress,
  listIsBehind,
  progressShare,
  progressText,
  pruneProgress,
  secondsLeft,
  type ImageProgress,
  type ProgressById,
} from '../../src/live/imageProgress';
import { alreadyAdded, osText } from '../../src/pages/ImagesPage';

const MiB = 1024 * 1024;

function update(imageId: string, over: Partial<ImageProgress> = {}): ImageProgress {
  return { imageId, phase: 'DOWNLOADING', bytes: 0, total: null, rate: 0, error: null, ...over };
}

describe('import progress as text', () => {
  it('says how far, how fast and how long', () => {
    expect(progressText(update('a', { bytes: 30 * MiB, total: 300 * MiB, rate: 5 * MiB }))).toBe(
      'Downloading 30 MiB of 300 MiB (10 %) · 5 MiB/s · about 54 s left',
    );
  });

  it('without a total, says how much so far', () => {
    expect(progressText(update('a', { bytes: 1536, rate: 0 }))).toBe('Downloading 1.5 KiB');
    expect(progressText(update('a', { phase: 'VERIFYING' }))).toBe('Verifying…');
  });

  it('once over, says only the outcome', () => {
    expect(progressText(update('a', { phase: 'READY', bytes: 10, total: 10 }))).toBe('Ready');
    expect(progressText(update('a', { phase: 'FAILED', error: 'checksum mismatch' }))).toBe('Failed: checksum mismatch');
  });

  it('shares and time left', () => {
    expect(progressShare(50, 200)).toBe(0.25);
    expect(progressShare(500, 200)).toBe(1);
    expect(progressShare(5, null)).toBeNull();
    expect(progressShare(5, 0)).toBeNull();
    expect(secondsLeft(0, 100, 10)).toBe(10);
    expect(secondsLeft(0, 100, 0)).toBeNull();
    expect(secondsLeft(100, 100, 10)).toBeNull();
  });

  it('formats rates and durations', () => {
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(2.5 * MiB)).toBe('2.5 MiB/s');
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(150)).toBe('3 min');
    expect(formatDuration(3599)).toBe('1 h');
    expect(formatDuration(3900)).toBe('1 h 5 min');
  });
});

describe('progress against the list', () => {
  const importing = { id: 'a', status: 'IMPORTING' as const };

  it('keeps the latest update per image', () => {
    let progress: ProgressById = new Map();
    progress = applyProgress(progress, update('a', { bytes: 1 }));
    progress = applyProgress(progress, update('a', { bytes: 2 }));
    progress = applyProgress(progress, update('b'));
    expect([...progress.values()].map((p) => [p.imageId, p.bytes])).toEqual([
      ['a', 2],
      ['b', 0],
    ]);
  });

  it('drops what the list shows as over, keeps what it does not know yet', () => {
    const progress: ProgressById = new Map([
      ['a', update('a', { phase: 'READY' })],
      ['b', update('b')],
    ]);
    const pruned = pruneProgress(progress, [{ id: 'a', status: 'READY' }]);
    expect([...pruned.keys()]).toEqual(['b']);
    expect(pruneProgress(pruned, [importing])).toBe(pruned);
  });

  it('is behind when an import is over but still listed as importing, or not listed', () => {
    expect(listIsBehind(new Map([['a', update('a')]]), [importing])).toBe(false);
    expect(listIsBehind(new Map([['a', update('a', { phase: 'READY' })]]), [importing])).toBe(true);
    expect(listIsBehind(new Map([['a', update('a', { phase: 'FAILED' })]]), [importing])).toBe(true);
    expect(listIsBehind(new Map([['b', update('b')]]), [importing])).toBe(true);
  });
});

describe('uploads', () => {
  it('puts the fields in the address, leaving empty ones out', () => {
    expect(uploadUrl({ name: ' My image ', fileName: 'disk 1.qcow2', osFamily: 'debian', osVersion: '', sha256: '  ' })).toBe(
      '/images/upload?name=My+image&fileName=disk+1.qcow2&osFamily=debian',
    );
  });

  it('reads a refusal, or makes one of the status', () => {
    expect(uploadProblem(400, '{"code":"BAD_INPUT","message":"name must not be empty","field":"name"}')).toEqual({
      code: 'BAD_INPUT',
      message: 'name must not be empty',
      field: 'name',
      policy: undefined,
    });
    expect(uploadProblem(403, '{"code":"FORBIDDEN","message":"not allowed","field":null}').code).toBe('FORBIDDEN');
    expect(uploadProblem(413, '<html>too large</html>')).toEqual({ code: 'BAD_INPUT', message: 'The file is larger than the server accepts.' });
    expect(uploadProblem(502, '<html>bad gateway</html>')).toEqual({ code: 'INTERNAL', message: 'The upload failed (HTTP 502).' });
    expect(uploadProblem(503, 'starting up')).toEqual({ code: 'UNAVAILABLE', message: 'starting up' });
  });

  it('measures the rate over the last few seconds', () => {
    let samples = [{ at: 0, bytes: 0 }];
    expect(rateOf(samples)).toBe(0);
    samples = addSample(samples, { at: 1_000, bytes: MiB });
    expect(rateOf(samples)).toBe(MiB);
    samples = addSample(samples, { at: 5_000, bytes: 3 * MiB });
    samples = addSample(samples, { at: 6_000, bytes: 4 * MiB });
    // The first two samples are older than 3 s: a stall long ago no longer counts.
    expect(samples.map((s) => s.at)).toEqual([5_000, 6_000]);
    expect(rateOf(samples)).toBe(MiB);
  });

  it('names an image after its file or URL', () => {
    expect(nameFromFile('debian-12-genericcloud-amd64.qcow2')).toBe('debian-12-genericcloud-amd64');
    expect(nameFromFile('C:\\fakepath\\win.vhdx')).toBe('win');
    expect(nameFromFile('https://example.org/images/Arch-Linux-x86_64-cloudimg.qcow2?x=1')).toBe('Arch-Linux-x86_64-cloudimg');
    expect(nameFromFile('https://example.org/a%20b.img.xz')).toBe('a b');
    expect(nameFromFile('.qcow2')).toBe('.qcow2');
    expect(nameFromFile('x'.repeat(100) + '.raw')).toHaveLength(64);
  });
});

describe('the images table', () => {
  it('reads the OS', () => {
    expect(osText('debian', '12')).toBe('debian 12');
    expect(osText('debian', null)).toBe('debian');
    expect(osText(null, null)).toBe('—');
  });

  it('knows which catalogue entries are already images', () => {
    const images = [{ source: 'https://example.org/debian.qcow2' }, { source: 'disk.qcow2' }];
    expect(alreadyAdded({ url: 'https://example.org/debian.qcow2' }, images)).toBe(true);
    expect(alreadyAdded({ url: 'https://example.org/fedora.qcow2' }, images)).toBe(false);
  });

  it('shows a refusal on a field only when the form has that field', () => {
    const problem = { code: 'BAD_INPUT' as const, message: 'bad checksum', field: 'sha256' };
    expect(splitByField(problem, ['url', 'sha256'])).toEqual({ fields: { sha256: 'bad checksum' }, general: null });
    expect(splitByField(problem, ['url'])).toEqual({ fields: {}, general: 'bad checksum' });
  });
});
