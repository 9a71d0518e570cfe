/*!
 * The stream thread's side (input/stream-thread.ts): opens a gzip file or a pipe (input/open.ts),
 * gunzips it if need be and cuts it into blocks of whole lines (input/blocks.ts), posting each
 * block's buffer to the thread that started it as that thread asks for them; buffers it sends
 * back are cut into again. Says how many gzip layers the input has once it is open; ends with one
 * message that carries the error that stopped the stream, if one did.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { isAnalyzerError } from '../errors.js';
import { StreamBlocks } from './blocks.js';
import { openInput, openPipe } from './open.js';
import type { StreamReply, StreamRequest, StreamStart } from './stream-thread.js';

if (parentPort === null) throw new Error('input/stream-worker.js runs as a worker thread');
const port: MessagePort = parentPort;
const { path, fd, blockBytes } = workerData as StreamStart;

let asked = 0;
let blocks: StreamBlocks | null = null;
let ended = false;

const post = (reply: StreamReply): void => port.postMessage(reply);

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

port.on('message', (m: StreamRequest) => {
  if (m.type === 'more') asked += m.blocks;
  else if (m.type === 'recycle') blocks?.recycle(m.data);
  // Before the input is open (a pipe that has sent nothing yet), nothing was read: that is the end.
  else if (blocks === null) end(null);
  else blocks.stopReading();
  flush();
});

try {
  const opened = fd === undefined ? await openInput(path as string) : await openPipe(fd);
  if (ended) opened.stream.destroy();
  else {
    post({ type: 'opened', gzipLayers: opened.gzipLayers });
    blocks = new StreamBlocks(opened.stream, () => opened.bytesRead(), flush, blockBytes);
    // An input that had ended already (an empty pipe) ended within the constructor, before `blocks` was set.
    flush();
  }
} catch (err) {
  end(err);
}
