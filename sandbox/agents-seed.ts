// Adds the sandbox's agents to a freshly started stack through the operator API, exactly as an
// operator would (/operator-session, then /operator-agents-add): the sandbox never writes the
// functions' Sync data itself, and a deployment on real Twilio starts with no agents at all.
export interface SeedAgent {
  identity: string;
  displayName: string;
  password: string;
}

async function post(url: string, body: Record<string, string>, session?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(session ? { Authorization: `Bearer ${session}` } : {}),
    },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

export async function seedAgents(functionsUrl: string, operatorSecret: string, agents: readonly SeedAgent[]) {
  if (!agents.length) return;
  const login = await post(`${functionsUrl}/operator-session`, { secret: operatorSecret });
  if (login.status !== 200) throw new Error(`seeding agents: /operator-session answered ${login.status}`);
  const session = String(login.body.session);
  for (const agent of agents) {
    const res = await post(`${functionsUrl}/operator-agents-add`, { ...agent }, session);
    // 409: already there (a stack restarted over the same Sync).
    if (res.status !== 201 && res.status !== 409)
      throw new Error(`seeding agent ${agent.identity}: /operator-agents-add answered ${res.status}`);
  }
}
