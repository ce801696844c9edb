import type { X509Certificate as X509 } from "node:crypto";
import { fs, lazyCrypto } from "./builtins.ts";
import type { SecureContext, Server as TlsServer, TLSSocket } from "node:tls";
import type { Config, ListenerConfig, OriginConfig } from "../core/config/schema.ts";
import { sniTable } from "../core/proxy/sni.ts";

/**
 * node:tls, loaded when first needed: a config without TLS listeners, https origins or wss never
 * pays its load at start (node:tls and node:http2 were ~40 % of a cold start's module loading).
 */
export const lazyTls = (): typeof import("node:tls") => process.getBuiltinModule("node:tls");

/** TLS 1.2+ only; Node's default cipher list (forward secrecy, AEAD first) otherwise. */
export const MIN_TLS = "TLSv1.2";

/** One loaded certificate: its names (for SNI) and a context to serve it with. */
export interface LoadedCert {
  names: string[];
  context: SecureContext;
  /** cert/key as read, to make the server's default context from. */
  pem: { cert: Buffer; key: Buffer };
  notAfter: string;
}

export type CertResult = { ok: true; certs: LoadedCert[] } | { ok: false; problems: string[] };

/**
 * Reads and checks every certificate of a TLS listener: readable, a certificate and a key in PEM,
 * not expired (nor not yet valid), the key matching the certificate. Each problem names its file
 * and the config path, and all of them are listed.
 */
export function loadCertificates(l: ListenerConfig, at: string, now = Date.now()): CertResult {
  const problems: string[] = [];
  const certs: LoadedCert[] = [];
  (l.tls?.certificates ?? []).forEach((c, i) => {
    const path = `${at}.tls.certificates[${i}]`;
    const cert = readPem(c.cert, `${path}.cert`, problems);
    const key = readPem(c.key, `${path}.key`, problems);
    if (!cert || !key) return;
    let x509: X509;
    try {
      x509 = new (lazyCrypto().X509Certificate)(cert);
    } catch (e) {
      return void problems.push(`${path}.cert: ${c.cert} holds no PEM certificate (${(e as Error).message})`);
    }
    let privateKey;
    try {
      privateKey = lazyCrypto().createPrivateKey(key);
    } catch (e) {
      return void problems.push(`${path}.key: ${c.key} holds no usable PEM private key (${(e as Error).message})`);
    }
    if (Date.parse(x509.validTo) < now) return void problems.push(`${path}.cert: ${c.cert} expired on ${new Date(x509.validTo).toISOString()}`);
    if (Date.parse(x509.validFrom) > now) return void problems.push(`${path}.cert: ${c.cert} is not valid before ${new Date(x509.validFrom).toISOString()}`);
    if (!x509.checkPrivateKey(privateKey)) return void problems.push(`${path}.key: ${c.key} does not match the certificate in ${c.cert}`);
    let context: SecureContext;
    try {
      context = lazyTls().createSecureContext({ cert, key, minVersion: MIN_TLS });
    } catch (e) {
      return void problems.push(`${path}: ${c.cert} / ${c.key}: ${(e as Error).message}`);
    }
    certs.push({ names: certNames(x509), context, pem: { cert, key }, notAfter: new Date(x509.validTo).toISOString() });
  });
  return problems.length ? { ok: false, problems } : { ok: true, certs };
}

/** Every TLS listener's certificates, checked; the config path of each listener goes in its problems. */
export function loadAllCertificates(config: Config): { ok: true; byListener: (LoadedCert[] | null)[] } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const byListener = config.listen.map((l, i) => {
    if (!l.tls) return null;
    const r = loadCertificates(l, config.listen.length === 1 ? "listen" : `listen[${i}]`);
    if (!r.ok) problems.push(...r.problems);
    return r.ok ? r.certs : null;
  });
  return problems.length ? { ok: false, problems } : { ok: true, byListener };
}

function readPem(file: string, path: string, problems: string[]): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "does not exist" : err.code === "EACCES" ? "cannot be read (permission denied)" : err.code === "EISDIR" ? "is a directory" : err.message;
    problems.push(`${path}: ${file} ${why}`);
    return null;
  }
}

/** DNS names of a certificate: its subjectAltName DNS entries, else its subject CN. */
function certNames(x: X509): string[] {
  const san = x.subjectAltName ?? "";
  const dns = [...san.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1].toLowerCase());
  if (dns.length) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/**
 * A TLS server for one listener: ALPN h2 and http/1.1 (or http/1.1 only), the certificate chosen by
 * SNI (the first one for clients that send no name or an unknown one). `swap` puts new certificates
 * in place for the next handshakes (SIGHUP); connections already open keep theirs.
 */
export function createTlsServer(certs: LoadedCert[], http2: boolean, onSocket: (s: TLSSocket) => void): { server: TlsServer; swap: (c: LoadedCert[]) => void } {
  const server = lazyTls().createServer(
    {
      ...certs[0].pem,
      minVersion: MIN_TLS,
      ALPNProtocols: http2 ? ["h2", "http/1.1"] : ["http/1.1"],
      // a handshake that does not finish in time is dropped (a slowloris on the TLS layer)
      handshakeTimeout: 10_000,
      // no Nagle from the accept on: the handshake's last flight and the response are small writes
      // behind unacknowledged data, and a delayed ACK would hold each one (node:http sets it only
      // once it gets the socket, after the handshake)
      noDelay: true,
    },
    onSocket,
  );
  // SNI through Node's own table (no SNICallback): with one certificate it stays empty and Node
  // asks no JS callback during the handshake; a custom SNICallback is called on every one
  const table = (list: LoadedCert[]) => {
    for (const e of sniTable(list.map((c) => c.names))) server.addContext(e.name, list[e.index].context);
  };
  const shared = () => (server as unknown as { _sharedCreds: SecureContext })._sharedCreds;
  table(certs);
  for (const sc of [shared(), ...certs.map((c) => c.context)]) renewTickets(sc);
  return {
    server,
    swap: (next) => {
      server.setSecureContext({ ...next[0].pem, minVersion: MIN_TLS });
      // addContext has no remove: the table is emptied in place (Node reads it on each handshake)
      (server as unknown as { _contexts: unknown[] })._contexts.length = 0;
      table(next);
      // the same ticket keys: tickets issued before the reload still resume
      for (const sc of [shared(), ...next.map((c) => c.context)]) renewTickets(sc);
    },
  };
}

/** The session ticket keys of this process (random, as Node's own; never written anywhere). */
let ticketKeys: { name: Buffer; hmac: Buffer; aes: Buffer } | null = null;

/**
 * TLS 1.3 session tickets renewed on every resumption. A TLS 1.3 client uses a ticket once (RFC
 * 8446 §C.4), and OpenSSL sends a new one on a resumed connection only when the ticket key callback
 * answers "renew" (2); Node's built-in callback answers "use" (1), so a returning client's
 * connections alternate between resumed and full handshakes (measured with wrk, Connection: close:
 * 50 % resumed; HAProxy 100 %). The callback is Node's own hook on its SecureContext
 * (enableTicketKeyCallback / onticketkeycallback, behind its test-https-resume-after-renew); every
 * context of a listener (the default and each SNI one: OpenSSL asks the one SNI chose) gets the
 * same keys. Where the hook is missing, Node's default tickets stay.
 */
function renewTickets(sc: SecureContext): void {
  const ctx = (sc as unknown as { context?: { enableTicketKeyCallback?: () => void; onticketkeycallback?: (name: Buffer, iv: Buffer, enc: boolean) => unknown[] } }).context;
  if (typeof ctx?.enableTicketKeyCallback !== "function") return;
  const { randomBytes } = lazyCrypto();
  const keys = (ticketKeys ??= { name: randomBytes(16), hmac: randomBytes(16), aes: randomBytes(16) });
  ctx.enableTicketKeyCallback();
  // [result, hmac key, aes key, (when encrypting) key name, iv]: Node reads the two keys whatever the result
  ctx.onticketkeycallback = (name, _iv, enc) =>
    enc ? [1, keys.hmac, keys.aes, keys.name, randomBytes(16)] : [name.equals(keys.name) ? 2 : 0, keys.hmac, keys.aes];
}

/** Connection options for an https origin (undici `connect`, and tls.connect for upgrades): SNI, verification, a CA file. */
export function originTls(o: OriginConfig): { ca?: Buffer; rejectUnauthorized: boolean; servername?: string } | undefined {
  if (!o.url.startsWith("https:")) return undefined;
  const host = new URL(o.url).hostname;
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith("[");
  return {
    ...(o.ca ? { ca: fs.readFileSync(o.ca) } : {}),
    rejectUnauthorized: o.verify,
    // SNI is a host name, never an address (RFC 6066 §3)
    ...(ip ? {} : { servername: host }),
  };
}

/** Problems with the CA files of https origins (missing, unreadable, not PEM), each with its path. */
export function checkOriginCas(config: Config): string[] {
  const problems: string[] = [];
  for (const [pname, pool] of Object.entries(config.pools)) {
    pool.origins.forEach((o, i) => {
      if (!o.ca || !o.url.startsWith("https:")) return;
      const pem = readPem(o.ca, `pools.${pname}.origins[${i}].ca`, problems);
      if (pem && !/-----BEGIN CERTIFICATE-----/.test(pem.toString("latin1"))) problems.push(`pools.${pname}.origins[${i}].ca: ${o.ca} holds no PEM certificate`);
    });
  }
  return problems;
}
