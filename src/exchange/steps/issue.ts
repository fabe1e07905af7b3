import { signAccessToken } from "../../tokens/access-token.js";
import { SELF } from "../../subject/types.js";
import { need, step } from "../pipeline.js";

export const issueAccessToken = step("issue_token", async (ctx, services) => {
  const subject = need(ctx.subject, "subject");
  const mapped = need(ctx.mapped, "mapped");
  ctx.issued = await signAccessToken(
    {
      issuer: services.issuer,
      sub: mapped.sub,
      audiences: need(ctx.targets, "targets").map((t) => t.id),
      clientId: ctx.client.id,
      scope: need(ctx.scope, "scope"),
      act: ctx.act,
      // The subject's identity provider; a re-exchanged token keeps the original one.
      idp: subject.source.id === SELF ? need(subject.granted, "granted").idp : subject.source.issuer,
      authTime: subject.authTime,
      acr: subject.acr,
      claims: mapped.claims,
      issuedAt: ctx.now,
      expiresAt: need(ctx.expiresAt, "expiresAt"),
    },
    services.keys.active,
  );
});
