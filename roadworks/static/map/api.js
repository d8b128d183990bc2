// Reads from the public API, conditional on the last ETag, so an unchanged poll costs only a 304.

const KEEP = 30;  // remembered answers; the map asks for a new box on every move
const answers = new Map();

export class ApiError extends Error {
  constructor(status, url) {
    super(`${status} from ${url}`);
    this.status = status;
  }
}

/** GET `url` as JSON: {data, etag, lastModified, fresh}; fresh is false when the server said 304. */
export async function getJSON(url) {
  const known = answers.get(url);
  const headers = {Accept: "application/geo+json, application/json"};
  if (known) headers["If-None-Match"] = known.etag;
  // no-store: the ETag is ours to send, so a 304 reaches this code instead of being served from the cache.
  const response = await fetch(url, {headers, cache: "no-store"});
  if (response.status === 304 && known) return {...known, fresh: false};
  if (!response.ok) throw new ApiError(response.status, url);
  const answer = {data: await response.json(), etag: response.headers.get("ETag"),
                  lastModified: response.headers.get("Last-Modified")};
  remember(url, answer);
  return {...answer, fresh: true};
}

function remember(url, answer) {
  answers.delete(url);
  if (!answer.etag) return;
  answers.set(url, answer);
  if (answers.size > KEEP) answers.delete(answers.keys().next().value);
}
