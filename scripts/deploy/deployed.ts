// What is deployed now, as the Serverless API says: the service (by its unique name), its
// environment (by domain suffix; '' is the production environment) and that environment's
// variables. Read by `npm run deploy` (its plan) and `npm run setup` (where to set up).
import type twilio from 'twilio';

export async function findDeployment(client: twilio.Twilio, serviceName: string, suffix: string) {
  const service = await client.serverless.v1
    .services(serviceName)
    .fetch()
    .catch((err: { status?: number }) => {
      if (err.status === 404) return undefined;
      throw err;
    });
  if (!service) return { service: undefined, environment: undefined, variables: [] };
  const environments = await client.serverless.v1.services(service.sid).environments.list();
  const environment = environments.find((e) => (e.domainSuffix ?? '') === suffix);
  if (!environment) return { service, environment: undefined, variables: [] };
  const variables = await client.serverless.v1.services(service.sid).environments(environment.sid).variables.list();
  return { service, environment, variables };
}
