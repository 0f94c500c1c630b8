// Serverless v1 Functions and Assets, and their Versions: listed and fetched on serverless.twilio.com,
// created by a multipart upload to serverless-upload.twilio.com (what @twilio-labs/serverless-api
// sends: Path, Visibility and Content, the file, with its content type). Twilio's spec has no
// operation for the upload; Twilio's docs give a Version's path at most 255 characters, starting
// with "/", and visibility public, protected or private.
import express from 'express';
import { newSid, TwilioApiError } from '../../http';
import { bodyOf, required } from '../sync/params';
import { resourceJson, serviceUrl, versionJson } from './json';
import { page } from './paging';
import { notFound, type ResourceKind, type ServerlessState, type Version, type Visibility } from './state';

export const MAX_PATH = 255;
/** The largest upload the sandbox takes (Twilio documents none on the API: undocumented). */
export const MAX_UPLOAD_BYTES = 20_000_000;
const VISIBILITIES: readonly Visibility[] = ['public', 'protected', 'private'];

const KINDS: { kind: ResourceKind; path: 'Functions' | 'Assets'; key: string; versionsKey: string }[] = [
  { kind: 'function', path: 'Functions', key: 'functions', versionsKey: 'function_versions' },
  { kind: 'asset', path: 'Assets', key: 'assets', versionsKey: 'asset_versions' },
];

export function registerResources(router: express.Router, uploadRouter: express.Router, state: ServerlessState) {
  for (const { kind, path, key, versionsKey } of KINDS) {
    const base = `/Services/:ServiceSid/${path}`;
    const friendlyName = (req: express.Request) => {
      const name = required(bodyOf(req), 'FriendlyName');
      if (name.length > 255) throw new TwilioApiError(400, 20001, 'FriendlyName must be 255 characters or less');
      return name;
    };

    router.get(base, (req, res) => {
      const svc = state.serviceOf(req);
      const all = [...state.resources.values()].filter((r) => r.serviceSid === svc.sid && r.kind === kind);
      res.json(page(req, key, all, (r) => resourceJson(state, r), `${serviceUrl(svc.sid)}/${path}`));
    });

    router.post(base, (req, res) => {
      const svc = state.serviceOf(req);
      const name = friendlyName(req);
      const now = Date.now();
      const r = { sid: newSid('ZH'), serviceSid: svc.sid, kind, friendlyName: name, created: now, updated: now };
      state.resources.set(r.sid, r);
      res.status(201).json(resourceJson(state, r));
    });

    router.get(`${base}/:Sid`, (req, res) => {
      res.json(resourceJson(state, state.resourceOf(req, state.serviceOf(req), kind, 'Sid')));
    });

    router.post(`${base}/:Sid`, (req, res) => {
      const r = state.resourceOf(req, state.serviceOf(req), kind, 'Sid');
      r.friendlyName = friendlyName(req);
      r.updated = Date.now();
      res.json(resourceJson(state, r));
    });

    router.delete(`${base}/:Sid`, (req, res) => {
      const r = state.resourceOf(req, state.serviceOf(req), kind, 'Sid');
      state.resources.delete(r.sid);
      for (const [sid, v] of state.versions) if (v.resourceSid === r.sid) state.versions.delete(sid);
      res.status(204).end();
    });

    const versionsBase = `${base}/:ResourceSid/Versions`;
    const versionOf = (req: express.Request) => {
      const r = state.resourceOf(req, state.serviceOf(req), kind, 'ResourceSid');
      const v = state.versions.get(String(req.params.Sid));
      if (!v || v.resourceSid !== r.sid) throw notFound(req);
      return v;
    };

    router.get(versionsBase, (req, res) => {
      const r = state.resourceOf(req, state.serviceOf(req), kind, 'ResourceSid');
      const all = [...state.versions.values()].filter((v) => v.resourceSid === r.sid);
      res.json(
        page(
          req,
          versionsKey,
          all,
          (v) => versionJson(state, v),
          `${serviceUrl(r.serviceSid)}/${path}/${r.sid}/Versions`,
        ),
      );
    });

    router.get(`${versionsBase}/:Sid`, (req, res) => {
      res.json(versionJson(state, versionOf(req)));
    });

    if (kind === 'function') {
      router.get(`${versionsBase}/:Sid/Content`, (req, res) => {
        const v = versionOf(req);
        res.json({
          sid: v.sid,
          account_sid: state.accountSid,
          service_sid: v.serviceSid,
          function_sid: v.resourceSid,
          content: v.content.toString('utf8'),
          url: `${versionJson(state, v).url}/Content`,
        });
      });
    }

    // The upload: multipart/form-data to serverless-upload.twilio.com.
    uploadRouter.post(
      versionsBase,
      express.raw({ type: () => true, limit: MAX_UPLOAD_BYTES }),
      async (req, res, next) => {
        try {
          const r = state.resourceOf(req, state.serviceOf(req), kind, 'ResourceSid');
          const contentType = req.get('content-type') ?? '';
          if (!/^multipart\/form-data;\s*boundary=/i.test(contentType))
            throw new TwilioApiError(400, 20001, 'A Version is uploaded as multipart/form-data');
          let form: FormData;
          try {
            const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
            form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
          } catch {
            throw new TwilioApiError(400, 20001, 'The multipart body could not be read');
          }
          const text = (name: string) => {
            const v = form.get(name);
            if (typeof v !== 'string' || v === '')
              throw new TwilioApiError(400, 20001, `Missing required parameter ${name} in the post body`);
            return v;
          };
          const versionPath = text('Path');
          if (!versionPath.startsWith('/') || versionPath.length > MAX_PATH)
            throw new TwilioApiError(400, 20001, `Path must start with "/" and be ${MAX_PATH} characters or less`);
          const visibility = text('Visibility') as Visibility;
          if (!VISIBILITIES.includes(visibility))
            throw new TwilioApiError(400, 20001, 'Visibility must be public, protected or private');
          const file = form.get('Content');
          if (file === null)
            throw new TwilioApiError(400, 20001, 'Missing required parameter Content in the post body');
          const content = typeof file === 'string' ? Buffer.from(file) : Buffer.from(await file.arrayBuffer());
          const version: Version = {
            sid: newSid('ZN'),
            serviceSid: r.serviceSid,
            kind,
            resourceSid: r.sid,
            path: versionPath,
            visibility,
            content,
            contentType: typeof file === 'string' ? 'text/plain' : file.type,
            created: Date.now(),
          };
          state.versions.set(version.sid, version);
          res.status(201).json(versionJson(state, version));
        } catch (err) {
          next(err);
        }
      },
    );
  }
}
