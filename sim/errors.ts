/**
 * An EC2 API error as the Query API returns it: a code from EC2's documented set and the HTTP
 * status EC2 uses for it. Actions throw these; the endpoint turns them into the XML error body.
 * Data on the wire, not a member of eni-ipam's error family (ipam/errors.ts): its code is EC2's.
 */
export class Ec2WireError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
    this.name = 'Ec2WireError';
  }
}

export function missingParameter(name: string): Ec2WireError {
  return new Ec2WireError('MissingParameter', `The request must contain the parameter ${name}`);
}

export function invalidParameterValue(message: string): Ec2WireError {
  return new Ec2WireError('InvalidParameterValue', message);
}

export function eniNotFound(eniId: string): Ec2WireError {
  return new Ec2WireError(
    'InvalidNetworkInterfaceID.NotFound',
    `The networkInterface ID '${eniId}' does not exist`,
  );
}
