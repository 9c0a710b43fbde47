/**
 * CloudWatch alarm notifications on the alert topic (function errors,
 * throttles, dead-letter queue depth, blind spots): the stack's own health.
 * They carry no signature, so the notifier posts them as unverified plain
 * text (`alert-signature.ts`); this schema picks the fields it shows.
 */
import * as z from 'zod/mini';

/** The fields of CloudWatch's SNS alarm message that the Slack message shows. */
export const AlarmNotificationSchema = z.object({
  AlarmName: z.string(),
  AlarmDescription: z.optional(z.nullable(z.string())),
  AWSAccountId: z.optional(z.string()),
  NewStateValue: z.string(),
  NewStateReason: z.optional(z.string()),
  StateChangeTime: z.optional(z.string()),
  AlarmArn: z.optional(z.string()),
});
export type AlarmNotification = z.infer<typeof AlarmNotificationSchema>;
