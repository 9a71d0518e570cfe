/*!
 * The gunzip thread's side (input/gunzip-thread.ts): opens a gzip file (input/open.ts), gunzips it
 * and cuts it into blocks of whole lines (input/blocks.ts), posting each block's buffer to the
 * thread that started it as that thread asks for them; buffers it sends back are cut into again.
 * Ends with one message that carries the error that stopped the stream, if one did.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { isAnalyzerError } from '../errors.js';
import { StreamBlocks } from './blocks.js';
import { openInput } from './open.js';
import type { GunzipReply, GunzipRequest, GunzipStart } from './gunzip-thread.js';

if (parentPort === null) throw new Error('input/gunzip-worker.js runs as a worker thread');
const port: MessagePort = parentPort;
const { path, blockBytes } = workerData as GunzipStart;

let asked = 0;
let blocks: StreamBlocks | null = null;
let ended = false;

const post = (reply: GunzipReply): void => port.postMessage(reply);

function end(err: unknown): void {
  if (ended) return;
  ended = true;
  const e = err as (Error & { code?: unknown }) | null;
  post({
    type: 'end',
    error: e === null ? null : { message: e.message, code: typeof e.code === 'string' ? e.code : '', analyzer: isAnalyzerError(e) },
  });
}

/** Posts blocks while the other thread wants them; the end once the last one went. */
function flush(): void {
  if (blocks === null) return;
  while (asked > 0) {
    const b = blocks.take();
    if (b === null) break;
    asked--;
    post({ type: 'block', block: b });
  }
  if (blocks.drained) end(blocks.error);
}

port.on('message', (m: GunzipRequest) => {
  if (m.type === 'more') asked += m.blocks;
  else if (m.type === 'recycle') blocks?.recycle(m.data);
  else blocks?.stopReading();
  flush();
});

try {
  const opened = await openInput(path);
  blocks = new StreamBlocks(opened.stream, () => opened.bytesRead(), flush, blockBytes);
} catch (err) {
  end(err);
}
