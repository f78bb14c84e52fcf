"""The admission webhook: AdmissionReview models, the pure Build mutation, and the HTTPS server."""
