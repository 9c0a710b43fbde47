/** `<family>.<24 base32 characters>`: a stored proposal's id. The family names the function that acts on it; the rest names nothing. */
export const PROPOSAL_ID = /^([a-z0-9]+(?:-[a-z0-9]+)*)\.([a-z2-7]{24})$/;
