/**
 * Links from an alert to the AWS console: the resource the rule acted on and
 * the CloudTrail event that triggered it. A resource the table does not know
 * gets no link rather than a guessed one.
 */

/**
 * Region names as AWS writes them. The event's region ends up in a link's host
 * name, so anything else (a hostile `evil.example/x?`) gets no link at all.
 */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

function isRegionName(region: string): boolean {
  return REGION.test(region);
}

/** `encodeURIComponent` throws on lone surrogates, which a hostile event can carry: replace them first. */
function encode(text: string): string {
  return encodeURIComponent(text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
}

/** The console's host for a region's partition. */
function consoleOrigin(region: string): string {
  if (region.startsWith('cn-')) return 'https://console.amazonaws.cn';
  if (region.startsWith('us-gov-')) return 'https://console.amazonaws-us-gov.com';
  return `https://${region}.console.aws.amazon.com`;
}

/** IAM is global: its console has no region in the host. */
function iamOrigin(region: string): string {
  if (region.startsWith('cn-')) return 'https://console.amazonaws.cn';
  if (region.startsWith('us-gov-')) return 'https://console.amazonaws-us-gov.com';
  return 'https://console.aws.amazon.com';
}

function s3Origin(region: string): string {
  return region.startsWith('cn-') || region.startsWith('us-gov-') ? iamOrigin(region) : 'https://s3.console.aws.amazon.com';
}

function ec2Page(region: string, fragment: string): string {
  return `${consoleOrigin(region)}/ec2/home?region=${region}#${fragment}`;
}

/** EC2 resource ids by prefix, to the console's detail page. */
const EC2_PAGES: readonly { readonly pattern: RegExp; readonly page: (id: string) => string }[] = [
  { pattern: /^sg-[0-9a-f]+$/, page: (id) => `SecurityGroup:groupId=${id}` },
  { pattern: /^vol-[0-9a-f]+$/, page: (id) => `VolumeDetails:volumeId=${id}` },
  { pattern: /^snap-[0-9a-f]+$/, page: (id) => `SnapshotDetails:snapshotId=${id}` },
  { pattern: /^ami-[0-9a-f]+$/, page: (id) => `ImageDetails:imageId=${id}` },
  { pattern: /^i-[0-9a-f]+$/, page: (id) => `InstanceDetails:instanceId=${id}` },
];

const IAM_PAGES: Readonly<Record<string, string>> = { role: 'roles', user: 'users', group: 'groups' };

function iamUrl(region: string, arn: string, resource: string): string | undefined {
  const [kind, ...rest] = resource.split('/');
  // The console addresses roles, users and groups by name; the path is not part of it.
  const name = rest.at(-1);
  if (!kind || !name) return undefined;
  if (kind === 'policy') return `${iamOrigin(region)}/iam/home#/policies/details/${encode(arn)}`;
  const page = IAM_PAGES[kind];
  return page ? `${iamOrigin(region)}/iam/home#/${page}/details/${encode(name)}` : undefined;
}

/**
 * The console page of a resource, given as an EC2 id (`sg-…`, `vol-…`,
 * `snap-…`, `ami-…`, `i-…`), a label of the IAM or S3 rules (`role app-role`,
 * `bucket my-bucket`), or an ARN (EC2, IAM role, user, group or policy, S3 bucket).
 * `region` is the event's region; an ARN's own region wins when it has one.
 */
export function resourceConsoleUrl(resource: string, region: string): string | undefined {
  if (!isRegionName(region)) return undefined;
  const ec2 = EC2_PAGES.find(({ pattern }) => pattern.test(resource));
  if (ec2) return ec2Page(region, ec2.page(resource));
  // The IAM rules label an identity "role app-role", "user alice" or "group admins".
  const identity = /^(role|user|group) ([\w+=,.@-]{1,128})$/.exec(resource);
  if (identity?.[1] && identity[2]) return `${iamOrigin(region)}/iam/home#/${IAM_PAGES[identity[1]] ?? ''}/details/${encode(identity[2])}`;
  // The S3 rules label a bucket "bucket my-bucket"; bucket ARNs have neither region nor account.
  const bucket = /^(?:bucket |arn:aws[a-z-]*:s3:::)([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$/.exec(resource)?.[1];
  if (bucket) return `${s3Origin(region)}/s3/buckets/${bucket}?region=${region}`;
  const arn = /^arn:aws[a-z-]*:([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:(.+)$/.exec(resource);
  if (!arn) return undefined;
  const [, service, arnRegion, , rest = ''] = arn;
  if (service === 'iam') return iamUrl(region, resource, rest);
  if (service === 'ec2') {
    const id = rest.split('/').at(-1) ?? '';
    const page = EC2_PAGES.find(({ pattern }) => pattern.test(id));
    return page && isRegionName(arnRegion || region) ? ec2Page(arnRegion || region, page.page(id)) : undefined;
  }
  return undefined;
}

/** The CloudTrail console's page for one event (management events stay there for 90 days). */
export function cloudTrailEventUrl(region: string, eventId: string): string | undefined {
  if (!isRegionName(region)) return undefined;
  return `${consoleOrigin(region)}/cloudtrailv2/home?region=${region}#/events/${encode(eventId)}`;
}

/**
 * A console link through the IAM Identity Center access portal (a shortcut
 * link): the portal signs the reader in to `account` with the permission set
 * `roleName`, then opens `destination`. Without it, a console link opens in
 * whatever account the browser is signed in to, which for a member account's
 * alert is usually another one.
 */
export function viaAccessPortal(destination: string, signIn: { readonly portalUrl: string; readonly roleName: string }, account: string): string {
  return `${signIn.portalUrl}/#/console?account_id=${encode(account)}&role_name=${encode(signIn.roleName)}&destination=${encode(destination)}`;
}
