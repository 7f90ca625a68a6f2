/**
 * An EC2 API error as the Query API returns it: a code from EC2's documented set and the HTTP
 * status EC2 uses for it. Actions throw these; the endpoint turns them into the XML error body.
 */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
    this.name = 'Ec2Error';
  }
}

export function missingParameter(name: string): Ec2Error {
  return new Ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
}

export function invalidParameterValue(message: string): Ec2Error {
  return new Ec2Error('InvalidParameterValue', message);
}

export function eniNotFound(eniId: string): Ec2Error {
  return new Ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${eniId}' does not exist`);
}
