// A browser-like HTTP client for tests of sign-in flows: a cookie jar per
// host, redirects followed by hand (so a test can stop at any hop), and HTML
// forms submitted with their hidden fields. It talks to real servers; it does
// not run scripts, so a real browser test covers what the web UI adds.

export interface AgentResponse {
  status: number;
  url: string;
  headers: Headers;
  body: string;
}

export class HttpAgent {
  private readonly jar = new Map<string, Map<string, string>>();

  cookies(host: string): Map<string, string> {
    let m = this.jar.get(host);
    if (!m) this.jar.set(host, (m = new Map()));
    return m;
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<AgentResponse> {
    const u = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    const jar = this.cookies(u.host);
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const res = await fetch(u, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    return { status: res.status, url: u.href, headers: res.headers, body: await res.text() };
  }

  /** Follows redirects (and a meta refresh) from `url` until a page that is not one; every hop's response in order. */
  async follow(url: string, init: Parameters<HttpAgent['request']>[1] = {}, maxHops = 20): Promise<AgentResponse[]> {
    const hops: AgentResponse[] = [];
    let next: string | undefined = url;
    let first = true;
    while (next && hops.length < maxHops) {
      const r = await this.request(next, first ? init : {});
      first = false;
      hops.push(r);
      const location =
        r.status >= 300 && r.status < 400
          ? r.headers.get('location')
          : /<meta http-equiv="refresh" content="0;url=([^"]+)"/.exec(r.body)?.[1]?.replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c)));
      next = location ? new URL(location, r.url).href : undefined;
    }
    return hops;
  }

  /** Submits the page's first form (hidden fields kept, `fields` added) and follows where it leads. */
  async submit(page: AgentResponse, fields: Record<string, string> = {}): Promise<AgentResponse[]> {
    const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(page.body);
    if (!form) throw new Error(`no form on ${page.url}: ${page.body.slice(0, 300)}`);
    const attr = (s: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(s)?.[1];
    const action = new URL(attr(form[1]!, 'action') ?? page.url, page.url).href;
    const values: Record<string, string> = {};
    for (const input of form[2]!.matchAll(/<input\b([^>]*)>/gi)) {
      const name = attr(input[1]!, 'name');
      if (name && attr(input[1]!, 'type')?.toLowerCase() === 'hidden') values[name] = attr(input[1]!, 'value') ?? '';
    }
    return this.follow(action, { method: (attr(form[1]!, 'method') ?? 'get').toUpperCase(), form: { ...values, ...fields } });
  }
}
