/*!
 * path | "-" → a byte stream of log text (or, for standard input that is a pipe, the pipe read
 * straight into blocks: input/pipe.ts). Gunzips when the first bytes are 1f 8b (again, if the
 * result is gzip too), whatever the file is called. Errors name the input (a corrupt gzip stream
 * also the compressed byte where decompression failed); nothing here reads lines.
 */
import { createReadStream, fstatSync } from 'node:fs';
import { open as openFile, readFile } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AnalyzerError } from '../errors.js';
import { PipeInput } from './pipe.js';

export interface OpenedInput {
  name: string;
  stream: Readable;
  /** How many gzip layers were removed. */
  gzipLayers: number;
  /** Compressed (on-disk) bytes read so far, for progress and error offsets. */
  bytesRead(): number;
  /** The file's size on disk when it was opened (undefined for stdin). */
  size?: number;
}

/** An input opened: a stream of its bytes, or a pipe read straight into blocks (openPipe). */
export type Opened = Omit<OpenedInput, 'stream'> & { stream: Readable | PipeInput };

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/**
 * Standard input, when it is a regular file that nothing has read yet (`wsdiag - < access.log`):
 * a path that opens that file again (`/dev/stdin`), so it is read like any file (in byte ranges,
 * side by side); null for a pipe, a terminal, or a file opened further in (Linux tells where in
 * /proc/self/fdinfo/0; elsewhere, null).
 */
export async function stdinAsFile(stdin: Readable | number | undefined): Promise<string | null> {
  if ((typeof stdin === 'number' ? stdin : (stdin as { fd?: unknown } | undefined)?.fd) !== 0) return null;
  try {
    if (!fstatSync(0).isFile()) return null;
    const pos = /^pos:\s*(\d+)$/m.exec(await readFile('/proc/self/fdinfo/0', 'utf8'));
    return pos?.[1] === '0' ? '/dev/stdin' : null;
  } catch {
    return null;
  }
}

/**
 * Opens a file (or stdin for "-": a stream, or a file descriptor, read as a stream), failing with
 * INPUT_NOT_FOUND / INPUT_UNREADABLE before any byte is read.
 */
export async function openInput(name: string, stdin?: Readable | number): Promise<OpenedInput> {
  let raw: Readable;
  let size: number | undefined;
  if (name === '-') {
    if (stdin === undefined) throw new AnalyzerError('INPUT_UNREADABLE', 'standard input ("-") is not available here', { file: name });
    raw = typeof stdin !== 'number' ? stdin : stdin === 0 ? process.stdin : createReadStream('', { fd: stdin, autoClose: false });
  } else {
    ({ stream: raw, size } = await openFileStream(name));
  }
  let stream = raw;
  let layers = 0;
  let failure: GzipFailure | null = null;
  for (;;) {
    let head: Buffer;
    try {
      ({ head, stream } = await peek(stream));
    } catch (err) {
      // Looking for a gzip stream inside the gzip stream can already hit the corruption.
      throw failure !== null && err === (failure as GzipFailure).err ? gzipError(name, failure, size) : err;
    }
    if (head.length < 2 || head[0] !== GZIP_MAGIC_0 || head[1] !== GZIP_MAGIC_1 || layers >= 3) break;
    // 1 MiB out per call rather than Node's 16 KiB: a sixth of the reading thread's time went to
    // zlib's callbacks, and at 256 KiB the gunzip thread still took 1.10× the CPU (12 runs each).
    // The file is still read 64 KiB at a time: zlib counts the input it consumed once per call,
    // so a corrupt byte is named within that (on stored, uncompressed blocks too).
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    const layer = ++layers;
    // Registered before the next layer's listener, so the layer where zlib failed records first.
    gunzip.once('error', (err: NodeJS.ErrnoException) => {
      if (failure === null && err.code?.startsWith('Z_')) failure = { layer, offset: gunzip.bytesWritten, err };
    });
    const source = stream;
    source.on('error', (err) => gunzip.destroy(err));
    stream = source.pipe(gunzip);
  }
  if (layers > 0) {
    // zlib's own error says neither which file nor where: the stream handed on fails with one that does.
    const out = new PassThrough({ highWaterMark: stream.readableHighWaterMark });
    stream.on('error', (err) => out.destroy(failure !== null && err === failure.err ? gzipError(name, failure, size) : err));
    stream = stream.pipe(out);
    // Closed before its end (the format gate, a stop, a thread of its own gunzipping it), it closes the file too.
    out.once('close', () => raw.destroy());
  }
  return { name, stream, gzipLayers: layers, bytesRead: () => (raw as { bytesRead?: number }).bytesRead ?? 0, size };
}

/**
 * Standard input that is a pipe or a socket (input/pipe.ts isPipe): read straight into the blocks
 * its lines are scanned in, or, when its first bytes are gzip's, as a stream gunzipped like any.
 */
export async function openPipe(fd: number): Promise<Opened> {
  const pipe = await PipeInput.open(fd);
  const bytesRead = (): number => pipe.bytesRead;
  if (pipe.gzip) return { ...(await openInput('-', pipe.stream())), bytesRead };
  return { name: '-', stream: pipe, gzipLayers: 0, bytesRead };
}

interface GzipFailure {
  /** 1 = the file's own gzip stream, 2 = the gzip stream inside it, … */
  layer: number;
  /** Compressed bytes of that layer that zlib had consumed without error (zlib.bytesWritten). */
  offset: number;
  err: NodeJS.ErrnoException;
}

/**
 * zlib reports consumed input once per call (at most one 64 KiB read, at most 1 MiB of output),
 * so the offset is where the last good call ended: decompression failed at or shortly after it
 * (for a truncated file: its end).
 */
function gzipError(name: string, f: GzipFailure, size: number | undefined): AnalyzerError {
  const where = f.layer === 1
    ? `after compressed byte ${f.offset}${size === undefined ? '' : ` of ${size}`}`
    : `in the gzip data inside the gzip (layer ${f.layer}), after its byte ${f.offset}`;
  return new AnalyzerError(
    'INPUT_BAD_GZIP',
    `${name}: corrupt or truncated gzip data: decompression failed ${where} (zlib: ${f.err.message}); the lines before it were analysed`,
    { file: name },
    { cause: f.err },
  );
}

async function openFileStream(name: string): Promise<{ stream: Readable; size: number }> {
  let handle;
  let size: number;
  try {
    handle = await openFile(name, 'r');
    const info = await handle.stat();
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = info.size;
  } catch (err) {
    await handle?.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AnalyzerError('INPUT_NOT_FOUND', `${name}: no such file`, { file: name }, { cause: err });
    const why = code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new AnalyzerError('INPUT_UNREADABLE', `${name}: cannot read (${why})`, { file: name }, { cause: err });
  }
  // 64 KiB chunks (the default): with 1 MiB ones, read buffers awaiting GC added ~50 MB to peak RSS.
  return { stream: handle.createReadStream({ highWaterMark: 1 << 16 }), size };
}

/**
 * Resolves with the first bytes of the stream (≥ 2 unless it is shorter) and the stream to read
 * from instead: the same one with the bytes put back, or, when it ended (a 1-byte input: no
 * unshift after 'end'), a new one holding them.
 */
function peek(stream: Readable): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const done = (ended: boolean): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      if (ended) {
        const rest = new PassThrough();
        rest.end(buffered);
        return resolve({ head: buffered, stream: rest });
      }
      stream.unshift(buffered);
      resolve({ head: buffered, stream });
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        if (buffered.length >= 2) return done(false);
      }
    };
    const onEnd = (): void => done(true);
    const onError = (err: Error): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      reject(err);
    };
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    // Destroyed before its end (Ctrl-C on a terminal's stdin): what came so far is all there is.
    // Without this the promise never settled and the run ended with no report.
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}

/** An empty stream, for inputs that could not be opened. */
export function emptyStream(): Readable {
  const s = new PassThrough();
  s.end();
  return s;
}
