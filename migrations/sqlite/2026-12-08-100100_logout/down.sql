DROP TABLE session_clients;
DROP TABLE client_logout;
