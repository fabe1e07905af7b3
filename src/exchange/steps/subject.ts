import { mapSubject } from "../../mapping/mapper.js";
import { need, step } from "../pipeline.js";

/** Verify the subject token with the verifier for its type (signature, conditions, every rule). */
export const verifySubjectToken = step("verify_subject_token", async (ctx, services) => {
  const { subjectToken, subjectTokenType } = need(ctx.request, "request");
  const verify = need(services.subjectVerifiers.get(subjectTokenType), "verifier");
  ctx.subject = await verify(subjectToken, ctx.now);
});

/** Attributes → sub, claims and the subject's scope ceiling, by the IdP's mapping. */
export const mapSubjectClaims = step("map_subject", (ctx) => {
  const subject = need(ctx.subject, "subject");
  ctx.mapped = mapSubject(subject, subject.idp.mapping);
});
