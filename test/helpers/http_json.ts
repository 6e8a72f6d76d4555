// A curl-like HTTP/1.1 client for gateway tests: a request's status, content type and body, and
// streamed answers read line by line until a condition holds (every wait has a deadline).
import { request, type IncomingHttpHeaders } from 'node:http';

export interface HttpAnswer {
  status: number;
  contentType: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** For streamed answers: stop reading (and close) once this holds for the body read so far. */
  until?: (body: string) => boolean;
}

export function httpCall(port: number, path: string, body: string | Buffer | undefined, o: HttpOptions = {}) {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      method: o.method ?? 'POST',
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`${path}: no complete answer within ${o.timeoutMs ?? 10_000} ms`));
    }, o.timeoutMs ?? 10_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      let text = '';
      const done = () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          headers: res.headers,
          body: text,
        });
      };
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        if (o.until?.(text)) {
          done();
          req.destroy();
        }
      });
      res.on('end', done);
      res.on('error', () => done());
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
