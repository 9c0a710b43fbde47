/** The bot's identity as the deployment passes it to every function, for the security-groups function of stage `prod` in us-east-1. */
export const BOT_ROLE = 'arn:aws:iam::111122223333:role/remediation-bot/remediation-bot-prod-us-east-1-security-groups';
export const BOT_SESSION = 'remediation-bot-prod-security-groups';
export const BOT_ENV = { BOT_PRINCIPALS: BOT_ROLE, BOT_SESSION_NAMES: BOT_SESSION } as const;
