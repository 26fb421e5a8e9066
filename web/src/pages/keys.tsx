// SSH keys: the public keys you log in to the SSH gateway with, and how to
// connect through the gateways this broker runs. Pasting a private key is
// refused here, before anything is sent.

import { useEffect, useState, type FormEvent } from 'react';
import { api, when, type Gateways, type SshKey } from '../api.ts';
import { Empty, ErrorNote, Loading, PageHeader, errorText, useLoad } from '../ui.tsx';

const looksPrivate = (text: string) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);

export function KeysPage({ user, toast }: { user: string; toast: (text: string, kind?: 'ok' | 'bad' | 'info') => void }) {
  const keys = useLoad(() => api.keys(), []);
  const gateways = useLoad(() => api.gateways(), []);
  return (
    <>
      <PageHeader title="SSH keys">
        The public keys you log in to the SSH gateway with. The gateway then makes a fresh account on the target for each connection, with a key you never see,
        and removes it when you log out.
      </PageHeader>
      <div className="keys-layout">
        <section className="card" aria-labelledby="keys-title">
          <h2 id="keys-title">Your keys</h2>
          {keys.error ? <ErrorNote>Could not load your keys: {keys.error}</ErrorNote> : null}
          {keys.loading && !keys.data ? <Loading /> : null}
          {keys.data && keys.data.keys.length === 0 ? (
            <Empty title="No keys yet">
              Add the contents of your <code>~/.ssh/id_ed25519.pub</code> below.
            </Empty>
          ) : null}
          {keys.data && keys.data.keys.length > 0 ? (
            <ul className="key-list">
              {keys.data.keys.map((k) => (
                <KeyRow
                  key={k.id}
                  k={k}
                  onRemoved={() => {
                    toast(`Removed key ${k.fingerprint}.`, 'ok');
                    keys.reload();
                  }}
                />
              ))}
            </ul>
          ) : null}
          <AddKey
            onAdded={(k) => {
              toast(`Added ${k.type} key ${k.fingerprint}.`, 'ok');
              keys.reload();
            }}
          />
        </section>
        <ConnectHelp user={user} gateways={gateways.data} error={gateways.error} />
      </div>
    </>
  );
}

function KeyRow({ k, onRemoved }: { k: SshKey; onRemoved: () => void }) {
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <li className="key" data-key={k.id}>
      <div className="key-main">
        <span className="key-type">{k.type}</span> <code className="key-fp">{k.fingerprint}</code>
        <div className="muted">
          {k.comment ?? 'no comment'} · added {when(k.createdAt)}
          {k.createdBy !== k.user ? ` by ${k.createdBy}` : ''}
        </div>
      </div>
      {error ? <ErrorNote>{error}</ErrorNote> : null}
      {confirm ? (
        <span>
          <button type="button" className="btn btn-danger btn-sm" onClick={() => api.removeKey(k.id).then(onRemoved, (e: unknown) => setError(errorText(e)))}>
            Remove now
          </button>{' '}
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => setConfirm(false)}>
            Keep
          </button>
        </span>
      ) : (
        <button type="button" className="btn btn-danger-ghost btn-sm" onClick={() => setConfirm(true)} aria-label={`Remove key ${k.fingerprint}`}>
          Remove
        </button>
      )}
    </li>
  );
}

function AddKey({ onAdded }: { onAdded: (k: SshKey) => void }) {
  const [text, setText] = useState('');
  const [comment, setComment] = useState('');
  const [signature, setSignature] = useState('');
  const [challenge, setChallenge] = useState<{ challenge: string; namespace: string; expiresAt: string }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const isPrivate = looksPrivate(text) || looksPrivate(signature);
  const keyFile = /^ssh-rsa /.test(text.trim()) ? '~/.ssh/id_rsa' : /^ecdsa-/.test(text.trim()) ? '~/.ssh/id_ecdsa' : '~/.ssh/id_ed25519';
  // A challenge to sign, fetched once a key is pasted (and again when it is about to expire).
  useEffect(() => {
    if (!text.trim() || isPrivate) return;
    if (challenge && Date.parse(challenge.expiresAt) - Date.now() > 60_000) return;
    let live = true;
    api.keyChallenge().then(
      (c) => {
        if (live) setChallenge(c);
      },
      (err: unknown) => {
        if (live) setError(errorText(err));
      },
    );
    return () => {
      live = false;
    };
  }, [text, isPrivate, challenge]);
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (isPrivate || !challenge) return;
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.addKey({ publicKey: text.trim(), comment: comment.trim() || undefined, challenge: challenge.challenge, signature: signature.trim() });
      setText('');
      setComment('');
      setSignature('');
      setChallenge(undefined);
      onAdded(r.key);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }
  const command = challenge ? `printf '%s' '${challenge.challenge}' | ssh-keygen -Y sign -n ${challenge.namespace} -f ${keyFile}` : '';
  return (
    <form className="add-key" onSubmit={submit} aria-labelledby="add-key-title">
      <h3 id="add-key-title">Add a key</h3>
      <label htmlFor="public-key">Public key</label>
      <textarea
        id="public-key"
        rows={3}
        spellCheck={false}
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder="ssh-ed25519 AAAAC3Nza… you@laptop"
        aria-describedby="public-key-hint"
        aria-invalid={looksPrivate(text)}
      />
      <p id="public-key-hint" className="hint">
        One line: the contents of a <code>.pub</code> file (ed25519, ECDSA, or RSA of 2048 bits or more).
      </p>
      {isPrivate ? (
        <ErrorNote>
          That is a private key. It was not sent. Paste the <code>.pub</code> file beside it instead, and keep the private key to yourself.
        </ErrorNote>
      ) : null}
      {challenge && !isPrivate ? (
        <>
          <label htmlFor="key-signature">Proof that the key is yours</label>
          <p className="hint" id="key-signature-hint">
            Run this where the private key is (it never leaves your machine), and paste what it prints:
          </p>
          <pre className="cmd" data-testid="sign-command">
            {command}
          </pre>
          <textarea
            id="key-signature"
            rows={4}
            spellCheck={false}
            value={signature}
            onChange={(e) => setSignature(e.target.value)}
            placeholder={'-----BEGIN SSH SIGNATURE-----\n…\n-----END SSH SIGNATURE-----'}
            aria-describedby="key-signature-hint"
          />
        </>
      ) : null}
      <label htmlFor="key-comment">Label (optional)</label>
      <input id="key-comment" type="text" maxLength={200} value={comment} onChange={(e) => setComment(e.target.value)} placeholder="the key's own comment" />
      {error ? <ErrorNote>{error}</ErrorNote> : null}
      <button type="submit" className="btn btn-primary" disabled={busy || !text.trim() || isPrivate || !challenge || !signature.trim()}>
        {busy ? 'Adding…' : 'Add key'}
      </button>
      <p className="hint">
        Or from a terminal: <code>stint keys add</code> does all of this.
      </p>
    </form>
  );
}

function gatewayHost(listen: string): { host: string; port: string } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const wildcard = host === '0.0.0.0' || host === '::';
  return { host: wildcard ? window.location.hostname : host, port: listen.slice(i + 1) };
}

function ConnectHelp({ user, gateways, error }: { user: string; gateways: Gateways | undefined; error: string | undefined }) {
  if (error)
    return (
      <section className="card">
        <ErrorNote>Could not load the gateways: {error}</ErrorNote>
      </section>
    );
  if (!gateways)
    return (
      <section className="card">
        <Loading />
      </section>
    );
  const ssh = gateways.ssh ? gatewayHost(gateways.ssh.listen) : null;
  const pg = gateways.postgres ? gatewayHost(gateways.postgres.listen) : null;
  return (
    <section className="card connect-help" aria-labelledby="connect-title">
      <h2 id="connect-title">How to connect</h2>
      {!ssh && !pg ? <p className="muted">This broker runs no session gateway.</p> : null}
      {ssh ? (
        <>
          <h3>SSH</h3>
          <pre
            className="cmd"
            data-testid="ssh-command"
          >{`ssh -p ${ssh.port} ${user}+PROFILE@${ssh.host}\nssh -J ${user}@${ssh.host}:${ssh.port} PROFILE`}</pre>
          <p className="hint">
            The gateway's host key ({gateways.ssh!.fingerprint}), for <code>~/.ssh/known_hosts</code>:
          </p>
          <pre className="cmd" data-testid="known-hosts">{`${ssh.port === '22' ? ssh.host : `[${ssh.host}]:${ssh.port}`} ${gateways.ssh!.hostKey}`}</pre>
          <p className="hint">
            <code>stint keys ssh-config</code> prints this and an <code>~/.ssh/config</code> block for <code>ssh PROFILE.stint</code>.
          </p>
        </>
      ) : null}
      {pg ? (
        <>
          <h3>PostgreSQL</h3>
          <pre className="cmd">{`stint connect PROFILE\npsql "host=${pg.host} port=${pg.port} user=${user} dbname=PROFILE sslmode=require"`}</pre>
          <p className="hint">
            <code>stint connect</code> logs in with a one-time token; with plain psql, your Stint token is the password.
          </p>
        </>
      ) : null}
    </section>
  );
}
