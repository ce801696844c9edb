export { createPolicy, hashKey, SmoothWeightedRoundRobin, LeastOutstanding, PowerOfTwoChoices, SourceHash, type Policy, type PolicyName } from "./policy.ts";
export { computeWeights, pickOrigin, NONE, FULL, type WeightsView } from "./eligibility.ts";
