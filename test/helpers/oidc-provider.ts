import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

export interface TestAccount {
  readonly email: string;
  readonly email_verified: boolean;
  readonly name: string;
  readonly groups: readonly string[];
}

export interface TestIdentityProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The person the next sign-in logs in as (the provider's login page, answered by the test). */
  signInAs(subject: string, account: TestAccount): void;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (`oidc-provider`, the certified implementation) on a loopback
 * port: discovery, authorization with PKCE, consent, the token endpoint, signed ID tokens, JWKS
 * and userinfo are its own. Only its login and consent pages are the test's: they accept whoever
 * `signInAs` named, as a person typing their password at the provider would.
 */
export async function startIdentityProvider(options: { redirectUri: string }): Promise<TestIdentityProvider> {
  const accounts = new Map<string, TestAccount>();
  let next: string | undefined;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'xerotier-router';
  const clientSecret = randomBytes(24).toString('hex');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const configuration: Configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: { email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    findAccount: (_ctx, id) => {
      const account = accounts.get(id);
      return account
        ? { accountId: id, claims: () => ({ sub: id, ...account, groups: [...account.groups] }) }
        : undefined;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: { devInteractions: { enabled: false } },
    jwks: { keys: [privateKey.export({ format: 'jwk' }) as never] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
  };
  const provider = new Provider(issuer, configuration);
  const handle = provider.callback();
  const interact = async (request: IncomingMessage, response: ServerResponse) => {
    const details = await provider.interactionDetails(request, response);
    if (details.prompt.name === 'login') {
      return provider.interactionFinished(request, response, { login: { accountId: next! } });
    }
    const grant = new provider.Grant({ accountId: details.session!.accountId, clientId });
    grant.addOIDCScope(String(details.params['scope']));
    return provider.interactionFinished(
      request,
      response,
      { consent: { grantId: await grant.save() } },
      {
        mergeWithLastSubmission: true,
      },
    );
  };
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith('/interaction/')) {
      interact(request, response).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
      return;
    }
    void handle(request, response);
  });
  return {
    issuer,
    clientId,
    clientSecret,
    signInAs(subject, account) {
      accounts.set(subject, account);
      next = subject;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A browser, as far as a redirect-based sign-in needs one: follows redirects with a cookie jar
 * until one leaves for `stopAt` (the router's callback), and returns that URL.
 */
export async function followUntil(start: string, stopAt: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = new URL(start);
  for (let hop = 0; hop < 20; hop += 1) {
    if (url.href.startsWith(stopAt)) return url;
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      if (value === '' || /expires=thu, 01 jan 1970/i.test(cookie)) jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.get('location');
    await response.arrayBuffer();
    if (response.status < 300 || response.status >= 400 || !location)
      throw new Error(`sign-in stopped at ${url.href} with ${response.status}`);
    url = new URL(location, url);
  }
  throw new Error('too many redirects');
}
